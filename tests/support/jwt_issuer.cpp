#include "tests/support/jwt_issuer.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <ctime>
#include <stdexcept>

#include "security/encoding.h"

namespace pacs::testing {
namespace {

using security::base64url_encode;

std::string big_endian(const EVP_PKEY* key, const char* param, int width = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) throw std::runtime_error(param);
  std::string out(
      width ? static_cast<std::size_t>(width) : static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

std::string sign(EVP_PKEY* key, const std::string& data) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  std::size_t length = 0;
  EVP_DigestSignInit(context, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(context, nullptr, &length, reinterpret_cast<const unsigned char*>(data.data()),
                 data.size());
  std::string signature(length, '\0');
  EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &length,
                 reinterpret_cast<const unsigned char*>(data.data()), data.size());
  EVP_MD_CTX_free(context);
  signature.resize(length);
  return signature;
}

// DER ECDSA signature -> JOSE's r || s, 32 bytes each.
std::string raw_ecdsa(const std::string& der) {
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* signature = d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(der.size()));
  std::string out(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(signature), reinterpret_cast<unsigned char*>(out.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(signature), reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
  ECDSA_SIG_free(signature);
  return out;
}

}  // namespace

JwtIssuer::JwtIssuer()
    : rsa_(EVP_RSA_gen(2048), EVP_PKEY_free), ec_(EVP_EC_gen("P-256"), EVP_PKEY_free) {
  if (!rsa_ || !ec_) throw std::runtime_error("key generation failed");
}

JwtIssuer::~JwtIssuer() = default;

std::string JwtIssuer::jwks() const {
  return R"({"keys":[{"kty":"RSA","kid":"rsa-1","use":"sig","alg":"RS256","n":")" +
         base64url_encode(big_endian(rsa_.get(), OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" +
         base64url_encode(big_endian(rsa_.get(), OSSL_PKEY_PARAM_RSA_E)) +
         R"("},{"kty":"EC","kid":"ec-1","crv":"P-256","x":")" +
         base64url_encode(big_endian(ec_.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32)) + R"(","y":")" +
         base64url_encode(big_endian(ec_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32)) +
         R"("},{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}]})";
}

std::string JwtIssuer::token(const std::string& alg, const std::string& claims_json,
                             const std::string& kid) const {
  const bool rsa = alg == "RS256";
  const std::string key_id = kid == "default" ? (rsa ? "rsa-1" : "ec-1") : kid;
  const std::string header = "{\"alg\":\"" + alg + "\"" +
                             (key_id.empty() ? "" : ",\"kid\":\"" + key_id + "\"") +
                             ",\"typ\":\"JWT\"}";
  const std::string signed_part = base64url_encode(header) + "." + base64url_encode(claims_json);
  std::string signature = sign(rsa ? rsa_.get() : ec_.get(), signed_part);
  if (!rsa) signature = raw_ecdsa(signature);
  return signed_part + "." + base64url_encode(signature);
}

std::string JwtIssuer::forge(const std::string& header_json, const std::string& claims_json,
                             const std::string& signature) {
  return base64url_encode(header_json) + "." + base64url_encode(claims_json) + "." +
         base64url_encode(signature);
}

std::string JwtIssuer::claims(const std::string& scope, long expires_in_seconds,
                              const std::string& issuer, const std::string& audience) {
  const long now = static_cast<long>(std::time(nullptr));
  return R"({"iss":")" + issuer + R"(","aud":[")" + audience + R"(","other"],"sub":"tester",)" +
         R"("iat":)" + std::to_string(now) + R"(,"exp":)" +
         std::to_string(now + expires_in_seconds) + R"(,"scope":")" + scope + R"("})";
}

}  // namespace pacs::testing
