// `pacsnode fsck [--repair]`: checks the data directory against the index (see store_check.h)
// with the node stopped. Exit codes as e2fsck's: 0 clean, 1 problems found and all repaired, 4
// problems left, 8 the check could not run (the node is running, the index is unreachable...).
#pragma once

#include "pacsnode/app/config.h"

namespace pacs {

int check_store_command(const Config& config, bool repair);

}  // namespace pacs
