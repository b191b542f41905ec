// `pacsnode retention [run]`: what the retention rules (--retention-*) would remove now and why;
// with `run`, removes it (as the node does every --retention-interval-seconds).
#pragma once

#include <string>
#include <vector>

#include "pacsnode/app/config.h"

namespace pacs {

// Exit 0 done, 1 failed, 2 bad arguments or no rule configured.
int retention_command(const Config& config, const std::vector<std::string>& args);

}  // namespace pacs
