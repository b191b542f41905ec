#include "dicomweb/api_requests.h"

#include <cstdlib>

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

}  // namespace pacs::web
