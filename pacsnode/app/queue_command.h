// `pacsnode queue [STATE]`: what the outbound (store-and-forward) queue holds.
#pragma once

#include <string>
#include <vector>

#include "pacsnode/app/config.h"

namespace pacs {

int show_queue(const Config& config, const std::vector<std::string>& args);

}  // namespace pacs
