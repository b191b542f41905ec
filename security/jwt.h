// OAuth 2.0 bearer tokens as signed JWTs (RFC 7519), checked against a JSON Web Key Set file
// (RFC 7517): RS256 and ES256 only. Anything else (alg "none", HMAC, a key of the wrong type, an
// unknown kid) is refused, so a token's own header cannot choose a weaker check.
#pragma once

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/model/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace pacs::security {

class KeySet {
 public:
  // The keys of a JWKS document; keys of other types or curves are skipped, a malformed key of a
  // supported type is an error. At least one usable key is required.
  static Result<KeySet> parse(std::string_view jwks_json);
  static Result<KeySet> load(const std::string& path);

  struct Key {
    std::string kid;
    std::string alg;  // "RS256" or "ES256": the only algorithm the key verifies
    std::shared_ptr<EVP_PKEY> key;
  };
  const std::vector<Key>& keys() const { return keys_; }

 private:
  std::vector<Key> keys_;
};

struct JwtPolicy {
  std::string issuer;               // iss must equal it
  std::string audience;             // aud must be it or contain it
  std::chrono::seconds leeway{60};  // clock skew allowed on exp and nbf
};

struct VerifiedToken {
  std::string subject;
  std::vector<std::string> scopes;  // from "scope" (space-separated) or "scp" (array)
};

// The error message says why a token was refused, for the WWW-Authenticate error_description and
// the log; it never repeats the token.
Result<VerifiedToken> verify_jwt(std::string_view token, const KeySet& keys,
                                 const JwtPolicy& policy, std::time_t now);

}  // namespace pacs::security
