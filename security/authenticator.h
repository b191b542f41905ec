// HTTP authentication and authorisation: who is calling (a JWT, an API token, or a user of HTTP
// Basic) and whether they may read, write or administer. The HTTP face asks; the rules of which
// request needs which access stay there.
#pragma once

#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "security/jwt.h"
#include "storage/model/result.h"

namespace pacs::security {

// What a caller may do; a set of these as bits. Admin includes read and write.
enum Access : unsigned { kRead = 1, kWrite = 2, kAdmin = 4 };

// "read", "write" or "admin"; nullopt for any other word.
std::optional<Access> parse_access(std::string_view word);
std::string_view access_name(Access access);
// The access a token's scopes grant: pacsnode.read / pacsnode.write / pacsnode.admin, and the
// SMART-on-FHIR forms for imaging (patient|user|system / * or ImagingStudy . read|write|* or the
// v2 letters: r and s read, c u d write).
unsigned access_of_scopes(const std::vector<std::string>& scopes);

struct Credential {
  std::string name;
  std::string hash;  // see secrets.h
  unsigned access = 0;
};

struct AuthSettings {
  // JWT bearer tokens: all three set, or none.
  std::string jwt_issuer, jwt_audience, jwks_file;
  std::vector<Credential> api_tokens;   // "Authorization: Bearer <token>"
  std::vector<Credential> basic_users;  // "Authorization: Basic base64(name:password)"
  bool configured() const {
    return !jwks_file.empty() || !api_tokens.empty() || !basic_users.empty();
  }
};

struct Caller {
  std::string name;  // the token's sub, the API token's or the user's name
  unsigned access = 0;
};

struct Decision {
  enum Kind { Allowed, Unauthenticated, Forbidden } kind = Unauthenticated;
  std::string reason;  // for the error body and the log; never the credential
  Caller caller;
};

class Authenticator {
 public:
  // Checks the settings and loads the key set; every error names the setting.
  static Result<std::unique_ptr<Authenticator>> create(const AuthSettings& settings);

  // The Authorization header's value (empty when absent) against the access a request needs.
  Decision decide(std::string_view authorization, Access needed, std::time_t now) const;
  // The WWW-Authenticate value of a 401 (RFC 6750 3, RFC 7617 2) for this decision.
  std::string challenge(const Decision& decision) const;
  bool basic_enabled() const { return !settings_.basic_users.empty(); }

 private:
  explicit Authenticator(AuthSettings settings) : settings_(std::move(settings)) {}
  std::optional<Caller> basic_caller(std::string_view credentials, std::string& reason) const;

  AuthSettings settings_;
  std::optional<KeySet> keys_;
  JwtPolicy policy_;
  // PBKDF2 is slow on purpose: a user's verified password is remembered (as a SHA-256 of user and
  // password, for a few minutes) so that a viewer's many requests do not each pay for it.
  mutable std::mutex verified_mu_;
  mutable std::map<std::string, std::chrono::steady_clock::time_point> verified_;
};

}  // namespace pacs::security
