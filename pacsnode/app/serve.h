// `pacsnode serve`: runs the node until SIGINT or SIGTERM.
#pragma once

#include "pacsnode/app/config.h"

namespace pacs {

int serve(const Config& config);

}  // namespace pacs
