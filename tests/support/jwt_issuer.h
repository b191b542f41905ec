// A stand-in identity provider for tests: its own RSA and P-256 keys, their JWKS, and tokens it
// signs (or deliberately mis-signs) with them.
#pragma once

#include <memory>
#include <string>

typedef struct evp_pkey_st EVP_PKEY;

namespace pacs::testing {

class JwtIssuer {
 public:
  JwtIssuer();  // fresh keys: RSA 2048 "rsa-1" and P-256 "ec-1"
  ~JwtIssuer();

  std::string jwks() const;
  // header.claims.signature with header {"alg": alg, "kid": kid} (kid "" leaves it out); alg is
  // RS256 or ES256 and signs with the matching key.
  std::string token(const std::string& alg, const std::string& claims_json,
                    const std::string& kid = "default") const;
  // A token with any header and any signature bytes, for the refusals.
  static std::string forge(const std::string& header_json, const std::string& claims_json,
                           const std::string& signature);
  // The claims of a token that passes: issuer, audience, expiry an hour away, these scopes.
  static std::string claims(const std::string& scope, long expires_in_seconds = 3600,
                            const std::string& issuer = "https://idp.test",
                            const std::string& audience = "pacsnode");

 private:
  std::shared_ptr<EVP_PKEY> rsa_, ec_;
};

}  // namespace pacs::testing
