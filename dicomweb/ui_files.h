// The web UI's static files (web/ at the repository root), built into the binary by
// cmake/embed_files.cmake, and how they are served: by path, with a content type.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pacs::web {

struct EmbeddedFile {
  std::string_view path;  // relative to web/, e.g. "index.html", "js/app.js"
  std::string_view bytes;
};

const std::vector<EmbeddedFile>& embedded_ui_files();

// The content type of a UI file, by its extension (application/octet-stream when unknown).
std::string_view ui_content_type(std::string_view path);

// A UI file's bytes: from `directory` when it is set (development: edits show without a rebuild),
// else from the binary. nullopt when there is no such file, or the path leaves the UI's root.
std::optional<std::string> ui_file(const std::string& directory, std::string_view path);

}  // namespace pacs::web
