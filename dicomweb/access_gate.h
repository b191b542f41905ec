// The HTTP face's door: which access each request needs (read to fetch, write to store, admin to
// operate) and the 401 / 403 answers when the caller does not have it. Who the caller is, is the
// authenticator's business (security/).
#pragma once

#include <optional>
#include <string_view>

#include "dicomweb/http_server.h"
#include "security/authenticator.h"

namespace pacs::web {

// The access a request needs; nullopt for what anyone may ask: CORS preflights (a browser sends
// them without credentials) and the liveness and readiness probes.
std::optional<security::Access> access_needed(http::verb method, std::string_view target);

class AccessGate {
 public:
  // Without an authenticator every request passes (a loopback-only node, or auth turned off).
  explicit AccessGate(const security::Authenticator* authenticator)
      : authenticator_(authenticator) {}
  // True when the request may go on; otherwise the 401 or 403 answer is set and logged.
  bool admit(Exchange& exchange) const;

 private:
  const security::Authenticator* authenticator_;
};

// A handler's coroutine for a request already answered (the session sends the answer).
net::awaitable<void> already_answered();

}  // namespace pacs::web
