// Credentials: encodings, stored secrets, scopes, and JWT verification with every refusal the
// issue names (expired, wrong issuer or audience, wrong signature, unknown kid, alg none, HMAC).
#include <gtest/gtest.h>

#include <ctime>

#include "security/authenticator.h"
#include "security/encoding.h"
#include "security/jwt.h"
#include "security/secrets.h"
#include "tests/support/jwt_issuer.h"

namespace pacs::security {
namespace {

using testing::JwtIssuer;

TEST(Encoding, Base64RoundTripsAndRefusesWhatNoEncoderMakes) {
  for (const std::string bytes :
       {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    EXPECT_EQ(base64url_decode(base64url_encode(bytes)), bytes);
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  }
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("Zm9vYg=="), std::nullopt) << "base64url takes no padding";
  EXPECT_EQ(base64url_decode("Zm9vYh"), std::nullopt) << "non-zero unused bits";
  EXPECT_EQ(base64url_decode("Z"), std::nullopt);
  EXPECT_EQ(base64_decode("Zm9vYg="), std::nullopt);
  EXPECT_EQ(base64_decode("Zm9v+g=="), "foo\xfa");
  EXPECT_EQ(base64_decode("Zm9v-g=="), std::nullopt) << "- is base64url's";
}

TEST(Secrets, TokensAndPasswordsVerifyOnlyAgainstTheirHash) {
  const auto token_hash = hash_token("s3cret-token");
  EXPECT_TRUE(token_hash.starts_with("sha256$"));
  EXPECT_TRUE(verify_secret(token_hash, "s3cret-token"));
  EXPECT_FALSE(verify_secret(token_hash, "s3cret-tokeN"));
  const auto password_hash = hash_password("correct horse", 10000);
  EXPECT_TRUE(password_hash.starts_with("pbkdf2-sha256$10000$"));
  EXPECT_NE(password_hash, hash_password("correct horse", 10000)) << "salted";
  EXPECT_TRUE(verify_secret(password_hash, "correct horse"));
  EXPECT_FALSE(verify_secret(password_hash, "correct horsf"));
  EXPECT_FALSE(check_stored_secret("s3cret-token")) << "a secret in clear is refused";
  EXPECT_FALSE(check_stored_secret("sha256$abc"));
  EXPECT_FALSE(check_stored_secret("pbkdf2-sha256$10$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_FALSE(verify_secret("plain", "plain"));
}

TEST(Scopes, OwnAndSmartScopesMapOntoAccess) {
  EXPECT_EQ(access_of_scopes({"pacsnode.read"}), kRead);
  EXPECT_EQ(access_of_scopes({"pacsnode.admin"}), kRead | kWrite | kAdmin);
  EXPECT_EQ(access_of_scopes({"user/ImagingStudy.read"}), kRead);
  EXPECT_EQ(access_of_scopes({"system/*.write"}), kWrite);
  EXPECT_EQ(access_of_scopes({"patient/*.*"}), kRead | kWrite);
  EXPECT_EQ(access_of_scopes({"user/ImagingStudy.rs"}), kRead);
  EXPECT_EQ(access_of_scopes({"system/*.cruds"}), kRead | kWrite);
  EXPECT_EQ(access_of_scopes({"user/Observation.read", "openid", "user/*.xyz", "launch"}), 0u);
  EXPECT_EQ(access_of_scopes({"user/ImagingStudy.rs?patient=1"}), 0u);
}

class Jwt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { issuer_ = new JwtIssuer; }
  static void TearDownTestSuite() { delete issuer_; }
  void SetUp() override { keys_ = KeySet::parse(issuer_->jwks()); }
  Result<VerifiedToken> verify(const std::string& token) {
    return verify_jwt(token, *keys_, {"https://idp.test", "pacsnode", std::chrono::seconds(60)},
                      std::time(nullptr));
  }
  std::string refusal(const std::string& token) {
    auto r = verify(token);
    return r ? "accepted" : r.error().message;
  }
  static JwtIssuer* issuer_;
  Result<KeySet> keys_ = fail(ErrorCode::NotFound, "");
};
JwtIssuer* Jwt::issuer_ = nullptr;

TEST_F(Jwt, TheKeySetHoldsTheRsaAndEcKeysAndSkipsOthers) {
  ASSERT_TRUE(keys_) << keys_.error().message;
  EXPECT_EQ(keys_->keys().size(), 2u) << "the HMAC key is not one to verify with";
  EXPECT_FALSE(KeySet::parse("{\"keys\":[]}"));
  EXPECT_FALSE(KeySet::parse("not json"));
  EXPECT_FALSE(KeySet::parse(R"({"keys":[{"kty":"RSA","kid":"x","n":"AQAB","e":"AQAB"}]})"))
      << "a 17-bit RSA key";
  EXPECT_FALSE(KeySet::parse(
      R"({"keys":[{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]})"))
      << "not a point on the curve";
}

TEST_F(Jwt, ValidRs256AndEs256TokensPassWithTheirScopes) {
  auto rs = verify(issuer_->token("RS256", JwtIssuer::claims("pacsnode.read user/*.write")));
  ASSERT_TRUE(rs) << rs.error().message;
  EXPECT_EQ(rs->subject, "tester");
  EXPECT_EQ(rs->scopes, (std::vector<std::string>{"pacsnode.read", "user/*.write"}));
  auto es = verify(issuer_->token("ES256", JwtIssuer::claims("pacsnode.admin")));
  ASSERT_TRUE(es) << es.error().message;
  EXPECT_TRUE(verify(issuer_->token("ES256", JwtIssuer::claims("x"), "")))
      << "without a kid, the one key of the algorithm";
}

TEST_F(Jwt, EveryBadTokenIsRefusedWithItsReason) {
  const auto good_claims = JwtIssuer::claims("pacsnode.read");
  EXPECT_EQ(refusal(issuer_->token("RS256", JwtIssuer::claims("pacsnode.read", -120))),
            "JWT has expired");
  EXPECT_EQ(refusal(issuer_->token("RS256", JwtIssuer::claims("pacsnode.read", -30))), "accepted")
      << "within the clock-skew leeway";
  EXPECT_EQ(refusal(issuer_->token("RS256",
                                   JwtIssuer::claims("pacsnode.read", 3600, "https://evil.test"))),
            "JWT issuer is not https://idp.test");
  EXPECT_EQ(refusal(issuer_->token(
                "RS256", JwtIssuer::claims("pacsnode.read", 3600, "https://idp.test", "else"))),
            "JWT audience does not include pacsnode");
  EXPECT_EQ(refusal(issuer_->token("RS256", good_claims, "rsa-9")),
            "no RS256 key 'rsa-9' in the key set");
  EXPECT_EQ(refusal(issuer_->token("ES256", good_claims, "rsa-1")),
            "no ES256 key 'rsa-1' in the key set");
  // A valid signature over other claims: the claims were changed after signing.
  auto token = issuer_->token("RS256", good_claims);
  const auto tampered = issuer_->token("RS256", JwtIssuer::claims("pacsnode.admin"));
  const auto dot1 = token.find('.'), dot2 = token.rfind('.');
  const auto other_claims =
      tampered.substr(tampered.find('.'), tampered.rfind('.') - tampered.find('.'));
  EXPECT_EQ(refusal(token.substr(0, dot1) + other_claims + token.substr(dot2)),
            "JWT signature does not verify");
  EXPECT_EQ(refusal(JwtIssuer::forge(R"({"alg":"none"})", good_claims, "")),
            "JWT algorithm 'none' is not accepted (RS256, ES256)");
  EXPECT_EQ(refusal(JwtIssuer::forge(R"({"alg":"HS256","kid":"hmac"})", good_claims,
                                     std::string(32, 'x'))),
            "JWT algorithm 'HS256' is not accepted (RS256, ES256)");
  EXPECT_EQ(refusal(JwtIssuer::forge(R"({"alg":"ES256","kid":"ec-1"})", good_claims, "short")),
            "ES256 signature is not 64 bytes");
  EXPECT_EQ(refusal(issuer_->token("RS256", R"({"iss":"https://idp.test","aud":"pacsnode"})")),
            "JWT has no expiry (exp)");
  const long later = static_cast<long>(std::time(nullptr)) + 600;
  EXPECT_EQ(refusal(issuer_->token("RS256", R"({"iss":"https://idp.test","aud":"pacsnode","exp":)" +
                                                std::to_string(later + 3600) + R"(,"nbf":)" +
                                                std::to_string(later) + "}")),
            "JWT is not valid yet (nbf)");
  EXPECT_EQ(refusal("a.b"), "not a signed JWT (three base64url parts)");
  EXPECT_EQ(refusal("e30.e30.@@"), "malformed JWT: a part is not base64url JSON");
}

TEST(Authenticator, DecidesBetweenAllowedUnauthenticatedAndForbidden) {
  AuthSettings settings;
  settings.api_tokens.push_back({"viewer", hash_token("view-token"), kRead});
  settings.basic_users.push_back({"legacy", hash_password("pw", 10000), kRead | kWrite});
  auto auth = Authenticator::create(settings);
  ASSERT_TRUE(auth) << auth.error().message;
  const auto now = std::time(nullptr);
  EXPECT_EQ((*auth)->decide("", kRead, now).kind, Decision::Unauthenticated);
  EXPECT_EQ((*auth)->decide("Bearer view-token", kRead, now).kind, Decision::Allowed);
  EXPECT_EQ((*auth)->decide("bearer  view-token ", kRead, now).kind, Decision::Allowed);
  EXPECT_EQ((*auth)->decide("Bearer view-token", kWrite, now).kind, Decision::Forbidden);
  EXPECT_EQ((*auth)->decide("Bearer guess", kRead, now).kind, Decision::Unauthenticated);
  EXPECT_EQ((*auth)->decide("Bearer a.b.c", kRead, now).reason, "JWTs are not accepted here");
  const auto basic = "Basic " + base64_encode("legacy:pw");
  EXPECT_EQ((*auth)->decide(basic, kWrite, now).kind, Decision::Allowed);
  EXPECT_EQ((*auth)->decide(basic, kWrite, now).kind, Decision::Allowed) << "remembered";
  EXPECT_EQ((*auth)->decide(basic, kAdmin, now).kind, Decision::Forbidden);
  EXPECT_EQ((*auth)->decide("Basic " + base64_encode("legacy:pW"), kRead, now).kind,
            Decision::Unauthenticated);
  EXPECT_EQ((*auth)->decide("Basic !!!", kRead, now).reason, "malformed Basic credentials");
  const auto challenge = (*auth)->challenge((*auth)->decide("Bearer guess", kRead, now));
  EXPECT_EQ(challenge,
            "Bearer realm=\"pacsnode\", error=\"invalid_token\", error_description=\"unknown API "
            "token\", Basic realm=\"pacsnode\", charset=\"UTF-8\"");

  settings.api_tokens[0].hash = "view-token";
  auto clear = Authenticator::create(settings);
  ASSERT_FALSE(clear);
  EXPECT_NE(clear.error().message.find("never the secret itself"), std::string::npos);
  AuthSettings half;
  half.jwt_issuer = "https://idp.test";
  EXPECT_FALSE(Authenticator::create(half));
}

}  // namespace
}  // namespace pacs::security
