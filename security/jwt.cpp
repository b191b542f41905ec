#include "security/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "security/encoding.h"

namespace pacs::security {
namespace {

namespace json = boost::json;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Bignum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBuilder = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyContext = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using DigestContext = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcdsaSignature = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

Error refused(std::string why) {
  return Error{ErrorCode::InvalidArgument, std::move(why)};
}

std::string string_member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<std::string> decoded_member(const json::object& o, std::string_view key) {
  const auto text = string_member(o, key);
  if (text.empty()) return std::nullopt;
  return base64url_decode(text);
}

Bignum bignum(const std::string& big_endian) {
  return Bignum(BN_bin2bn(reinterpret_cast<const unsigned char*>(big_endian.data()),
                          static_cast<int>(big_endian.size()), nullptr));
}

// A public key from OpenSSL parameters, for the key type "RSA" or "EC".
std::shared_ptr<EVP_PKEY> public_key(const char* type, const OSSL_PARAM* params) {
  PkeyContext context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &key, EVP_PKEY_PUBLIC_KEY,
                        const_cast<OSSL_PARAM*>(params)) != 1)
    return nullptr;
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

Result<std::shared_ptr<EVP_PKEY>> rsa_key(const json::object& jwk) {
  const auto n = decoded_member(jwk, "n"), e = decoded_member(jwk, "e");
  if (!n || !e) return tl::unexpected(refused("an RSA key without a valid n and e"));
  ParamBuilder builder(OSSL_PARAM_BLD_new());
  const Bignum modulus = bignum(*n), exponent = bignum(*e);
  if (!builder || !modulus || !exponent ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1)
    return tl::unexpected(refused("OpenSSL could not take an RSA key"));
  const Params params(OSSL_PARAM_BLD_to_param(builder.get()));
  auto key = params ? public_key("RSA", params.get()) : nullptr;
  if (!key) return tl::unexpected(refused("an RSA key OpenSSL does not accept"));
  // RFC 7518 3.3: keys of 2048 bits or more.
  if (EVP_PKEY_get_bits(key.get()) < 2048)
    return tl::unexpected(refused("an RSA key shorter than 2048 bits"));
  return key;
}

Result<std::shared_ptr<EVP_PKEY>> ec_key(const json::object& jwk) {
  const auto x = decoded_member(jwk, "x"), y = decoded_member(jwk, "y");
  if (!x || !y || x->size() != 32 || y->size() != 32)
    return tl::unexpected(refused("a P-256 key without 32-byte x and y"));
  const std::string point = "\x04" + *x + *y;  // an uncompressed point (SEC 1 2.3.3)
  ParamBuilder builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1)
    return tl::unexpected(refused("OpenSSL could not take a P-256 key"));
  const Params params(OSSL_PARAM_BLD_to_param(builder.get()));
  auto key = params ? public_key("EC", params.get()) : nullptr;
  if (!key) return tl::unexpected(refused("a P-256 key that is not a point on the curve"));
  return key;
}

std::optional<json::object> json_object(std::string_view text) {
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

// JOSE carries an ECDSA signature as r || s (RFC 7518 3.4); OpenSSL verifies DER.
std::optional<std::string> der_of_raw_ecdsa(const std::string& raw) {
  if (raw.size() != 64) return std::nullopt;
  EcdsaSignature signature(ECDSA_SIG_new());
  Bignum r = bignum(raw.substr(0, 32)), s = bignum(raw.substr(32));
  if (!signature || !r || !s || ECDSA_SIG_set0(signature.get(), r.get(), s.get()) != 1)
    return std::nullopt;
  r.release();  // owned by the signature now
  s.release();
  const int length = i2d_ECDSA_SIG(signature.get(), nullptr);
  if (length <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_ECDSA_SIG(signature.get(), &out);
  return der;
}

bool signature_verifies(EVP_PKEY* key, std::string_view signed_part, const std::string& signature) {
  DigestContext context(EVP_MD_CTX_new());
  return context && EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(signed_part.data()),
                          signed_part.size()) == 1;
}

// A NumericDate claim (seconds since the epoch, RFC 7519 2); nullopt when absent or not a number.
std::optional<double> numeric_date(const json::object& claims, std::string_view key) {
  const auto* v = claims.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  if (v->is_double() && std::isfinite(v->as_double())) return v->as_double();
  return std::nullopt;
}

}  // namespace

Result<KeySet> KeySet::parse(std::string_view jwks_json) {
  const auto document = json_object(jwks_json);
  const auto* keys = document ? document->if_contains("keys") : nullptr;
  if (!keys || !keys->is_array())
    return fail(ErrorCode::InvalidArgument, "JWKS: not a JSON object with a \"keys\" array");
  KeySet out;
  for (const auto& entry : keys->as_array()) {
    if (!entry.is_object()) return fail(ErrorCode::InvalidArgument, "JWKS: a key is no object");
    const auto& jwk = entry.as_object();
    const std::string kty = string_member(jwk, "kty"), kid = string_member(jwk, "kid");
    const std::string use = string_member(jwk, "use"), alg = string_member(jwk, "alg");
    if (!use.empty() && use != "sig") continue;  // an encryption key verifies nothing
    Result<std::shared_ptr<EVP_PKEY>> key = nullptr;
    std::string verifies;
    if (kty == "RSA" && (alg.empty() || alg == "RS256")) {
      key = rsa_key(jwk);
      verifies = "RS256";
    } else if (kty == "EC" && string_member(jwk, "crv") == "P-256" &&
               (alg.empty() || alg == "ES256")) {
      key = ec_key(jwk);
      verifies = "ES256";
    } else {
      continue;  // a key type or algorithm this node does not verify with
    }
    if (!key)
      return fail(ErrorCode::InvalidArgument, "JWKS key '" + kid + "': " + key.error().message);
    out.keys_.push_back({kid, verifies, std::move(*key)});
  }
  if (out.keys_.empty())
    return fail(ErrorCode::InvalidArgument, "JWKS: no RS256 or ES256 signing key");
  return out;
}

Result<KeySet> KeySet::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::InvalidArgument, "JWKS file " + path + " cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  auto keys = parse(text.str());
  if (!keys) return fail(ErrorCode::InvalidArgument, path + ": " + keys.error().message);
  return keys;
}

Result<VerifiedToken> verify_jwt(std::string_view token, const KeySet& keys,
                                 const JwtPolicy& policy, std::time_t now) {
  const auto first = token.find('.');
  const auto second = first == token.npos ? token.npos : token.find('.', first + 1);
  if (second == token.npos || token.find('.', second + 1) != token.npos)
    return tl::unexpected(refused("not a signed JWT (three base64url parts)"));
  const auto header_text = base64url_decode(token.substr(0, first));
  const auto claims_text = base64url_decode(token.substr(first + 1, second - first - 1));
  const auto signature = base64url_decode(token.substr(second + 1));
  const auto header = header_text ? json_object(*header_text) : std::nullopt;
  const auto claims = claims_text ? json_object(*claims_text) : std::nullopt;
  if (!header || !claims || !signature)
    return tl::unexpected(refused("malformed JWT: a part is not base64url JSON"));

  // The algorithm is the key's, never the token's choice: the header must name the same one.
  const std::string alg = string_member(*header, "alg");
  if (alg != "RS256" && alg != "ES256")
    return tl::unexpected(refused("JWT algorithm '" + alg + "' is not accepted (RS256, ES256)"));
  if (header->contains("crit"))
    return tl::unexpected(refused("JWT with critical header extensions"));
  const std::string kid = string_member(*header, "kid");
  const KeySet::Key* key = nullptr;
  int candidates = 0;
  for (const auto& k : keys.keys()) {
    if (k.alg != alg) continue;
    if (!kid.empty() ? k.kid == kid : true) {
      key = &k;
      ++candidates;
    }
  }
  if (!key) return tl::unexpected(refused("no " + alg + " key '" + kid + "' in the key set"));
  if (kid.empty() && candidates > 1)
    return tl::unexpected(refused("JWT names no kid and the key set has several " + alg + " keys"));

  std::string signature_der = *signature;
  if (alg == "ES256") {
    auto der = der_of_raw_ecdsa(*signature);
    if (!der) return tl::unexpected(refused("ES256 signature is not 64 bytes"));
    signature_der = std::move(*der);
  }
  if (!signature_verifies(key->key.get(), token.substr(0, second), signature_der))
    return tl::unexpected(refused("JWT signature does not verify"));

  // Claims, only now that they are known to come from the issuer's key.
  if (string_member(*claims, "iss") != policy.issuer)
    return tl::unexpected(refused("JWT issuer is not " + policy.issuer));
  bool audience_ok = false;
  if (const auto* aud = claims->if_contains("aud")) {
    if (aud->is_string()) audience_ok = aud->as_string() == policy.audience;
    if (aud->is_array())
      for (const auto& a : aud->as_array())
        audience_ok = audience_ok || (a.is_string() && a.as_string() == policy.audience);
  }
  if (!audience_ok)
    return tl::unexpected(refused("JWT audience does not include " + policy.audience));
  const double leeway = static_cast<double>(policy.leeway.count());
  const auto expires = numeric_date(*claims, "exp");
  if (!expires) return tl::unexpected(refused("JWT has no expiry (exp)"));
  if (static_cast<double>(now) >= *expires + leeway)
    return tl::unexpected(refused("JWT has expired"));
  if (claims->contains("nbf")) {
    const auto not_before = numeric_date(*claims, "nbf");
    if (!not_before || static_cast<double>(now) + leeway < *not_before)
      return tl::unexpected(refused("JWT is not valid yet (nbf)"));
  }

  VerifiedToken out;
  out.subject = string_member(*claims, "sub");
  if (const auto* scope = claims->if_contains("scope"); scope && scope->is_string()) {
    std::istringstream words{std::string(scope->as_string())};
    for (std::string word; words >> word;) out.scopes.push_back(word);
  }
  if (const auto* scp = claims->if_contains("scp"); scp && scp->is_array())
    for (const auto& s : scp->as_array())
      if (s.is_string()) out.scopes.emplace_back(s.as_string());
  return out;
}

}  // namespace pacs::security
