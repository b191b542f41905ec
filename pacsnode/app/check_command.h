// `pacsnode check-config`: everything serve would refuse at start (bad values, unsafe
// combinations, unreadable TLS files or key sets), checked without starting, and a summary.
#pragma once

#include "pacsnode/app/config.h"

namespace pacs {

int check_config_command(const Config& config);  // 0 fine, 2 not

}  // namespace pacs
