// `pacsnode import PATH...`: bulk ingest of files and folders through the same pipeline as C-STORE.
#pragma once

#include <string>
#include <vector>

#include "pacsnode/app/config.h"

namespace pacs {

int import_paths(const Config& config, const std::vector<std::string>& paths);

}  // namespace pacs
