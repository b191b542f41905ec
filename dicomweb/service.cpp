#include "dicomweb/service.h"

#include <algorithm>
#include <cctype>

#include "dicomweb/handlers.h"
#include "dicomweb/url.h"
#include "storage/model/json_text.h"
#include "storage/model/uid.h"
#include "storage/model/utf8.h"

namespace pacs::web {

std::string json_string(const std::string& text) {
  // Text from a request (a query key, a path segment) may carry any bytes: JSON must be UTF-8.
  return with_invalid_utf8_replaced(json_quoted(text));
}

namespace {

constexpr const char* kBadEncoding = "malformed percent-encoding in URL";

Headers preflight_headers() {
  return {{"Allow", "GET, HEAD, POST, OPTIONS"},
          {"Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS"},
          {"Access-Control-Allow-Headers", "Accept, Content-Type, Authorization"},
          {"Access-Control-Max-Age", "600"}};
}

}  // namespace

audit::Participant requestor(const Exchange& exchange) {
  return audit::remote(exchange.caller().empty() ? "anonymous" : exchange.caller(),
                       exchange.peer_address(), true);
}

std::string origin_url(const Exchange& exchange) {
  std::string host(exchange.header(http::field::host));
  // The host goes into URLs inside JSON and headers: only the characters a host and port have.
  const bool plain = std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
  if (host.empty() || !plain) host = "127.0.0.1";
  return (exchange.secure() ? "https://" : "http://") + host;
}

std::string base_url(const Exchange& exchange, const WebContext& context) {
  return origin_url(exchange) + context.base_path;
}

void reply_error(Exchange& exchange, http::status status, const std::string& message) {
  exchange.respond(status, "application/json", "{\"error\":" + json_string(message) + "}\n");
}

net::awaitable<void> DicomWebService::handle(Exchange& exchange) {
  const auto method = exchange.request().method();
  if (method == http::verb::options) {
    // CORS preflight, and what the resources allow.
    exchange.respond(http::status::no_content, "", "", preflight_headers());
    co_return;
  }
  auto target = parse_target(exchange.target());
  if (!target) {
    reply_error(exchange, http::status::bad_request, kBadEncoding);
    co_return;
  }
  auto& s = target->segments;
  // WADO-URI lives beside the RESTful base: /wado?requestType=WADO&...
  if (s.size() == 1 && s[0] == "wado" &&
      (method == http::verb::get || method == http::verb::head)) {
    co_await wado_uri(exchange, context_, target->query);
    co_return;
  }
  // The base path, then the resource tree of PS3.18 10.3.
  const auto base = parse_target(context_.base_path);
  if (!base || s.size() < base->segments.size() ||
      !std::equal(base->segments.begin(), base->segments.end(), s.begin())) {
    reply_error(exchange, http::status::not_found,
                "no such resource; the DICOMweb service is under " + context_.base_path);
    co_return;
  }
  s.erase(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(base->segments.size()));
  const bool get = method == http::verb::get || method == http::verb::head;
  const bool post = method == http::verb::post;
  const std::size_t n = s.size();
  auto is = [&](std::size_t i, const char* word) { return i < n && s[i] == word; };
  ResourceUids uids;
  if (n >= 2 && is(0, "studies")) uids.study = s[1];
  if (n >= 4 && is(2, "series")) uids.series = s[3];
  if (n >= 6 && is(4, "instances")) uids.instance = s[5];
  // A path segment names one object by its UID: anything else (a wildcard, a list, "..") would
  // reach the index as a matching key and could name every object there.
  for (const std::string* uid : {&uids.study, &uids.series, &uids.instance}) {
    if (uid->empty()) continue;
    if (auto checked = Uid::parse(*uid); !checked) {
      reply_error(exchange, http::status::bad_request,
                  "the path names '" + *uid + "', which is not a UID: " + checked.error().message);
      co_return;
    }
  }

  // QIDO-RS
  if (get && n == 1 && (is(0, "studies") || is(0, "series") || is(0, "instances"))) {
    const char* level = is(0, "studies") ? "STUDY" : is(0, "series") ? "SERIES" : "IMAGE";
    const SearchRequest request{level, {}, std::move(target->query)};
    co_await search(exchange, context_, request);
    co_return;
  }
  if (get && n == 3 && is(0, "studies") && (is(2, "series") || is(2, "instances"))) {
    const SearchRequest request{
        is(2, "series") ? "SERIES" : "IMAGE", {uids.study, {}, {}}, std::move(target->query)};
    co_await search(exchange, context_, request);
    co_return;
  }
  if (get && n == 5 && is(0, "studies") && is(2, "series") && is(4, "instances")) {
    const SearchRequest request{"IMAGE", {uids.study, uids.series, {}}, std::move(target->query)};
    co_await search(exchange, context_, request);
    co_return;
  }
  // WADO-RS
  const bool study_path = n >= 2 && is(0, "studies");
  const bool series_path = study_path && n >= 4 && is(2, "series");
  const bool instance_path = series_path && n >= 6 && is(4, "instances");
  const std::size_t depth = instance_path ? 6 : series_path ? 4 : study_path ? 2 : 0;
  if (get && depth > 0 && n == depth) {
    co_await retrieve_instances(exchange, context_, uids, target->query);
    co_return;
  }
  if (get && depth > 0 && n == depth + 1 && is(depth, "metadata")) {
    co_await retrieve_metadata(exchange, context_, uids);
    co_return;
  }
  if (get && instance_path && n == 8 && is(6, "frames")) {
    const std::string frames = s[7];
    co_await retrieve_frames(exchange, context_, uids, frames);
    co_return;
  }
  if (get && instance_path && n == 8 && is(6, "bulkdata")) {
    const std::string tag = s[7];
    co_await retrieve_bulkdata(exchange, context_, uids, tag);
    co_return;
  }
  const bool rendered = is(depth, "rendered") || is(depth, "thumbnail");
  if (get && depth > 0 && n == depth + 1 && rendered) {
    const RenderRequest request{uids, {}, is(depth, "thumbnail"), target->query};
    co_await retrieve_rendered(exchange, context_, request);
    co_return;
  }
  if (get && instance_path && n == 9 && is(6, "frames") && is(8, "rendered")) {
    const RenderRequest request{uids, s[7], false, target->query};
    co_await retrieve_rendered(exchange, context_, request);
    co_return;
  }
  // STOW-RS
  if (post && ((n == 1 && is(0, "studies")) || (n == 2 && is(0, "studies")))) {
    const std::string study = n == 2 ? s[1] : std::string{};
    co_await store_instances(exchange, context_, study);
    co_return;
  }
  if ((depth > 0 && n == depth) || (n == 1 && is(0, "studies"))) {
    reply_error(exchange, http::status::method_not_allowed,
                std::string(exchange.method()) + " is not allowed on this resource");
    co_return;
  }
  if (depth > 0 && n > depth &&
      (is(depth, "rendered") || is(depth, "bulkdata") || is(depth, "frames") ||
       is(depth, "pixeldata"))) {
    reply_error(exchange, http::status::not_implemented,
                s[depth] + " is not served at this level by this version");
    co_return;
  }
  reply_error(exchange, http::status::not_found, "no such DICOMweb resource");
}

}  // namespace pacs::web
