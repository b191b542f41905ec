// `pacsnode serve`: runs the node until SIGINT or SIGTERM.
#pragma once

#include <functional>

#include "pacsnode/app/config.h"

namespace pacs {

// Runs the node until SIGINT/SIGTERM. On SIGHUP, `reread` gives the configuration anew (file and
// flags) and the peers and routing rules are replaced; other settings wait for a restart.
int serve(const Config& config, const std::function<Result<Config>()>& reread);

}  // namespace pacs
