// `pacsnode delete LEVEL KEY...`: removes a patient, study, series or instance from the archive,
// as DELETE /api/admin/... does (index rows and files, counts kept right, audited).
#pragma once

#include <string>
#include <vector>

#include "pacsnode/app/config.h"

namespace pacs {

// args: "patient" ID [ISSUER] | "study" UID | "series" UID | "instance" UID. Exit 0 removed,
// 1 failed, 2 bad arguments, 3 nothing stored matches.
int delete_command(const Config& config, const std::vector<std::string>& args);

}  // namespace pacs
