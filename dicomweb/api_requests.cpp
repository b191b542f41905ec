#include "dicomweb/api_requests.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "dicomweb/handlers.h"

namespace pacs::web {

std::optional<std::size_t> limit_or_refused(Exchange& exchange, const Target& target) {
  const std::string text = query_parameter(target, "limit");
  if (text.empty()) return 1000;
  const auto n = std::strtoul(text.c_str(), nullptr, 10);
  if (n == 0 || n > 100000 || text.find_first_not_of("0123456789") != std::string::npos) {
    reply_error(exchange, http::status::bad_request, "limit is 1 to 100000");
    return std::nullopt;
  }
  return n;
}

bool allowed(Exchange& exchange, Use use) {
  const auto method = exchange.request().method();
  const bool ok = use == Use::Get ? method == http::verb::get || method == http::verb::head
                                  : method == http::verb::post;
  if (!ok)
    reply_error(exchange, http::status::method_not_allowed,
                use == Use::Get ? "use GET" : "use POST");
  return ok;
}

http::status status_of_refusal(ErrorCode code) {
  switch (code) {
    case ErrorCode::NotFound:
      return http::status::not_found;
    case ErrorCode::InvalidArgument:
      return http::status::conflict;
    default:
      return http::status::service_unavailable;
  }
}

std::optional<std::int64_t> id_or_refused(Exchange& exchange, const std::string& text,
                                          const std::string& what) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    reply_error(exchange, http::status::bad_request, what + " is named by its number");
    return std::nullopt;
  }
  return std::stoll(text);
}

std::string with_cr_segment_ends(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' || text[i] == '\n') {
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (!out.empty() && out.back() != '\r') out += '\r';
      continue;
    }
    out += text[i];
  }
  if (!out.empty() && out.back() != '\r') out += '\r';
  return out;
}

std::string with_lf_segment_ends(std::string text) {
  std::replace(text.begin(), text.end(), '\r', '\n');
  return text;
}

net::awaitable<std::optional<std::string>> edited_message_or_refused(Exchange& exchange,
                                                                     std::size_t max_bytes) {
  std::string body;
  std::vector<char> buffer(16 * 1024);
  // Bounded by max_bytes.
  for (;;) {
    const std::size_t got = co_await exchange.read_body(buffer);
    if (got == 0) break;
    body.append(buffer.data(), got);
    if (body.size() > max_bytes) {
      reply_error(exchange, http::status::payload_too_large,
                  "an edited message is at most " + std::to_string(max_bytes) + " bytes");
      co_return std::nullopt;
    }
  }
  co_return with_cr_segment_ends(body);
}

}  // namespace pacs::web
