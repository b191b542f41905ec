#include "dicomweb/ui_service.h"

#include "dicomweb/handlers.h"
#include "dicomweb/ui_files.h"
#include "dicomweb/url.h"

namespace pacs::web {
namespace {

std::string replaced_all(std::string text, std::string_view key, const std::string& value) {
  // Bounded by the text: every pass moves past one replacement.
  for (std::size_t at = text.find(key); at != std::string::npos;
       at = text.find(key, at + value.size()))
    text.replace(at, key.size(), value);
  return text;
}

// Answers with a UI file; the page itself for the UI's own routes.
void serve_file(Exchange& exchange, const std::string& directory, const std::string& path) {
  auto bytes = ui_file(directory, path);
  if (!bytes) {
    reply_error(exchange, http::status::not_found, "no such file in the web UI");
    return;
  }
  // The UI is small and changes with the node: browsers revalidate rather than keep stale code.
  exchange.respond(http::status::ok, std::string(ui_content_type(path)), std::move(*bytes),
                   {{"Cache-Control", "no-cache"},
                    {"X-Content-Type-Options", "nosniff"},
                    {"Content-Security-Policy",
                     "default-src 'self'; img-src 'self' blob: data:; "
                     "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"}});
}

}  // namespace

bool UiService::handles(std::string_view target) {
  const std::string_view path = path_of(target);
  return path == "/ui" || path.starts_with("/ui/");
}

std::string viewer_launch_template(const std::string& public_root) {
  return public_root + "/ui/viewer?study={study}";
}

net::awaitable<void> UiService::handle(Exchange& exchange) {
  const auto method = exchange.request().method();
  if (method != http::verb::get && method != http::verb::head) {
    reply_error(exchange, http::status::method_not_allowed, "the web UI is read with GET");
    co_return;
  }
  const std::string_view path = path_of(exchange.target());
  const std::string relative(path.size() > 4 ? path.substr(4) : std::string_view{});
  if (relative == "viewer" && !options_.external_viewer.empty()) {
    const auto target = parse_target(exchange.target());
    if (!target) {
      reply_error(exchange, http::status::bad_request, "broken percent-encoding in the URL");
      co_return;
    }
    std::string location = options_.external_viewer;
    for (const char* key : {"study", "accession", "patient"}) {
      std::string value;
      for (const auto& [name, v] : target->query)
        if (name == key) value = v;
      location =
          replaced_all(std::move(location), "{" + std::string(key) + "}", percent_encode(value));
    }
    exchange.respond(http::status::found, "text/plain; charset=utf-8", "to the viewer\n",
                     {{"Location", location}, {"Cache-Control", "no-store"}});
    co_return;
  }
  // The page, for the UI's root and its launch route; everything else is a file.
  const bool page = relative.empty() || relative == "viewer";
  serve_file(exchange, options_.directory, page ? "index.html" : relative);
}

}  // namespace pacs::web
