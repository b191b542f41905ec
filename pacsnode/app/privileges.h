// Running as an unprivileged user: a node started as root (by an init system) gives up root before
// it opens anything, so a flaw in a face cannot become root on the machine.
#pragma once

#include <string>

#include "storage/model/result.h"

namespace pacs {

// As root: makes data_dir (owned by the user) when missing, then takes the user's groups, group
// and user id for good. Not root: fine when `user` is the current user, an error otherwise.
Result<void> run_as(const std::string& user, const std::string& data_dir);

}  // namespace pacs
