#include "dicomweb/access_gate.h"

#include <ctime>

#include "dicomweb/handlers.h"
#include "dicomweb/url.h"
#include "security/audit_trail.h"
#include "storage/model/log.h"

namespace pacs::web {

std::optional<security::Access> access_needed(http::verb method, std::string_view target) {
  const std::string_view path = path_of(target);
  if (method == http::verb::options) return std::nullopt;
  if (path == "/health" || path == "/ready") return std::nullopt;
  // The web UI's files hold no patient data; what the UI then asks for needs access as usual.
  if (path == "/ui" || path.starts_with("/ui/")) return std::nullopt;
  if (path == "/metrics" || path == "/api/admin" || path.starts_with("/api/admin/"))
    return security::kAdmin;
  const bool reads = method == http::verb::get || method == http::verb::head;
  return reads ? security::kRead : security::kWrite;
}

bool AccessGate::admit(Exchange& exchange) const {
  if (!authenticator_) return true;
  const auto needed = access_needed(exchange.request().method(), exchange.target());
  if (!needed) return true;
  const auto decision = authenticator_->decide(exchange.header(http::field::authorization), *needed,
                                               std::time(nullptr));
  if (decision.kind == security::Decision::Allowed) {
    exchange.set_caller(decision.caller.name);
    return true;
  }
  const bool forbidden = decision.kind == security::Decision::Forbidden;
  // A failed login is an audit event (PS3.15 A.5.3.16); a refused scope a security alert.
  if (forbidden)
    audit::record(audit::security_alert(decision.caller.name, exchange.peer_address(),
                                        decision.reason, "HTTP"));
  else
    audit::record(audit::user_authentication(false, "", exchange.peer_address(), decision.reason));
  // The target may carry query values (patient names): the log names the method and the path.
  const auto target = exchange.target();
  PACS_LOG(Warn) << "HTTP " << exchange.method() << " " << path_of(target)
                 << (forbidden ? " forbidden to " + decision.caller.name : " unauthenticated")
                 << ": " << decision.reason;
  exchange.respond(forbidden ? http::status::forbidden : http::status::unauthorized,
                   "application/json", "{\"error\":" + json_string(decision.reason) + "}\n",
                   {{"WWW-Authenticate", authenticator_->challenge(decision)}});
  return false;
}

net::awaitable<void> already_answered() {
  co_return;
}

}  // namespace pacs::web
