#include "dicomweb/operations.h"

#include <algorithm>
#include <array>

#include "dicomweb/handlers.h"
#include "dicomweb/url.h"
#include "storage/model/metrics.h"

namespace pacs::web {
namespace {

// The words of the DICOMweb resource tree (PS3.18 10) and of the workflow API.
bool is_resource_word(std::string_view segment) {
  static constexpr std::array<std::string_view, 16> words = {
      "dicom-web", "studies",   "series",   "instances", "metadata", "frames",
      "rendered",  "thumbnail", "bulkdata", "pixeldata", "api",      "reconciliation",
      "link",      "reports",   "outbox",   "wado"};
  return std::find(words.begin(), words.end(), segment) != words.end();
}

// The placeholder for a value segment, named after the word before it.
std::string placeholder_after(std::string_view previous) {
  if (previous == "studies" || previous == "reconciliation" || previous == "reports")
    return "{study}";
  if (previous == "series") return "{series}";
  if (previous == "instances") return "{instance}";
  if (previous == "frames") return "{frames}";
  if (previous == "bulkdata") return "{tag}";
  return "{id}";
}

}  // namespace

bool OperationsApi::handles(std::string_view target) {
  const auto path = path_of(target);
  return path == "/health" || path == "/ready" || path == "/metrics";
}

net::awaitable<void> OperationsApi::handle(Exchange& exchange) {
  const auto method = exchange.request().method();
  if (method != http::verb::get && method != http::verb::head) {
    reply_error(exchange, http::status::method_not_allowed, "only GET and HEAD here");
    co_return;
  }
  const auto path = path_of(exchange.target());
  if (path == "/health") {
    exchange.respond(http::status::ok, "application/json", "{\"status\":\"up\"}\n");
    co_return;
  }
  if (path == "/ready") {
    const auto ready = co_await exchange.blocking([this] { return ready_(); });
    if (ready)
      exchange.respond(http::status::ok, "application/json", "{\"status\":\"ready\"}\n");
    else
      exchange.respond(
          http::status::service_unavailable, "application/json",
          "{\"status\":\"not ready\",\"reason\":" + json_string(ready.error().message) + "}\n",
          {{"Retry-After", "5"}});
    co_return;
  }
  // The scrape reads the index (queue depths): on the worker pool.
  const std::string text =
      co_await exchange.blocking([] { return metrics::registry().exposition(); });
  exchange.respond(http::status::ok, "text/plain; version=0.0.4; charset=utf-8", text);
}

std::string route_of(std::string_view target) {
  const auto path = path_of(target);
  if (path == "/health" || path == "/ready" || path == "/metrics") return std::string(path);
  if (path == "/ui" || path.starts_with("/ui/")) return "/ui";
  if (path == "/fhir" || path.starts_with("/fhir/")) return "/fhir";
  if (!path.starts_with("/dicom-web") && !path.starts_with("/api/") && path != "/wado")
    return "other";
  std::string route;
  std::string_view previous, rest = path.substr(1);
  for (int segments = 0; !rest.empty() && segments < 16; ++segments) {
    const auto slash = rest.find('/');
    const auto segment = rest.substr(0, slash);
    route += "/";
    route += is_resource_word(segment) ? std::string(segment) : placeholder_after(previous);
    previous = segment;
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  return rest.empty() ? route : "other";
}

}  // namespace pacs::web
