// `pacsnode new-token`, `hash-token` and `hash-password`: the stored forms of HTTP credentials,
// so that the config never holds a secret itself.
#pragma once

#include <string>

namespace pacs {

// command is "new-token", "hash-token" or "hash-password"; the secret, if any, comes on stdin.
int secret_command(const std::string& command);

}  // namespace pacs
