#include "dicomweb/ui_files.h"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace pacs::web {

std::string_view ui_content_type(std::string_view path) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"}};
  for (const auto& [extension, type] : kTypes)
    if (path.ends_with(extension)) return type;
  return "application/octet-stream";
}

std::optional<std::string> ui_file(const std::string& directory, std::string_view path) {
  // Only plain relative paths: no "..", no empty or hidden segments, no absolute path.
  if (path.empty() || path.front() == '/') return std::nullopt;
  for (std::size_t from = 0; from <= path.size();) {
    const std::size_t slash = path.find('/', from);
    const std::string_view segment =
        path.substr(from, slash == std::string_view::npos ? std::string_view::npos : slash - from);
    if (segment.empty() || segment.front() == '.') return std::nullopt;
    if (slash == std::string_view::npos) break;
    from = slash + 1;
  }
  if (!directory.empty()) {
    std::ifstream in(std::filesystem::path(directory) / std::string(path), std::ios::binary);
    if (!in) return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  for (const EmbeddedFile& file : embedded_ui_files())
    if (file.path == path) return std::string(file.bytes);
  return std::nullopt;
}

}  // namespace pacs::web
