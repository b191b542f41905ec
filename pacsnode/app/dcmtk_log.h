// Routes DCMTK's oflog output into the node's logger, quiet (warnings and up) unless asked.
#pragma once

#include "storage/model/log.h"

namespace pacs {

void route_dcmtk_logging(log::Level node_level);

}  // namespace pacs
