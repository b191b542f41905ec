// HTTP authentication and authorisation on a real node, with curl: JWTs from a stand-in issuer,
// a static API token and an HTTP Basic user, each given read, write or admin access; and the node
// refusing to serve HTTP beyond loopback without authentication.
#include <gtest/gtest.h>

#include "security/encoding.h"
#include "security/secrets.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/jwt_issuer.h"
#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
using testing::JwtIssuer;
using testing::TestNode;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto jwks = dir_.path() / "jwks.json";
    testing::write_all(jwks, issuer_.jwks());
    node_ = std::make_unique<TestNode>(TestNode::Options{
        .db = "sqlite",
        .extra_flags = {"--jwt-issuer", "https://idp.test", "--jwt-audience", "pacsnode",
                        "--jwks-file", jwks.string(), "--api-token",
                        "robot:write:" + security::hash_token("robot-token"), "--basic-user",
                        "legacy:read:" + security::hash_password("legacy-pw", 10000)}});
    node_->start();
    files_ = testing::generate_corpus(
        dir_.path() / "corpus",
        {"--studies", "1", "--series", "1", "--instances", "1", "--rows", "16", "--columns", "16"});
  }

  testing::HttpResponse get(const std::string& path, const std::string& authorization = "") {
    std::vector<std::string> headers = {"Accept: application/dicom+json"};
    if (!authorization.empty()) headers.push_back("Authorization: " + authorization);
    return testing::http_request(node_->http_port(), "GET", path, headers);
  }
  testing::HttpResponse stow(const std::string& authorization) {
    return testing::stow(node_->http_port(), files_, dir_.path() / "body",
                         {"Authorization: " + authorization});
  }
  std::string bearer(const std::string& alg, const std::string& claims) {
    return "Bearer " + issuer_.token(alg, claims);
  }

  testing::TempDir dir_;
  JwtIssuer issuer_;
  std::unique_ptr<TestNode> node_;
  std::vector<std::filesystem::path> files_;
};

TEST_F(AuthTest, JwtsGrantWhatTheirScopesSayAndNothingElse) {
  auto anonymous = get("/dicom-web/studies");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_EQ(anonymous.header("www-authenticate").rfind("Bearer realm=\"pacsnode\"", 0), 0u)
      << anonymous.header("www-authenticate");

  const auto reader = bearer("RS256", JwtIssuer::claims("user/ImagingStudy.read"));
  EXPECT_EQ(get("/dicom-web/studies", reader).status, 200);
  auto refused = stow(reader);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.header("www-authenticate").find("error=\"insufficient_scope\""),
            std::string::npos);
  EXPECT_EQ(node_->open_index()->counts()->instances, 0);

  const auto writer = bearer("ES256", JwtIssuer::claims("pacsnode.read pacsnode.write"));
  EXPECT_EQ(stow(writer).status, 200);
  EXPECT_EQ(node_->open_index()->counts()->instances, static_cast<std::int64_t>(files_.size()));

  const auto expired =
      get("/dicom-web/studies", bearer("RS256", JwtIssuer::claims("pacsnode.read", -300)));
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.header("www-authenticate").find("error_description=\"JWT has expired\""),
            std::string::npos)
      << expired.header("www-authenticate");
  EXPECT_NE(expired.body.find("JWT has expired"), std::string::npos);
  EXPECT_EQ(get("/dicom-web/studies",
                bearer("RS256", JwtIssuer::claims("pacsnode.read", 3600, "https://other.test")))
                .status,
            401);
  EXPECT_EQ(
      get("/dicom-web/studies",
          "Bearer " + JwtIssuer::forge(R"({"alg":"none"})", JwtIssuer::claims("pacsnode.read"), ""))
          .status,
      401);
  EXPECT_EQ(get("/metrics", reader).status, 403) << "operations need admin";
  // The log names the refusal, never the token.
  const auto log = node_->log();
  EXPECT_NE(log.find("unauthenticated: JWT has expired"), std::string::npos) << log;
  EXPECT_EQ(log.find(reader.substr(7, 40)), std::string::npos);
}

TEST_F(AuthTest, ApiTokensAndBasicUsersWorkAndPreflightsAndProbesNeedNoCredentials) {
  EXPECT_EQ(stow("Bearer robot-token").status, 200);
  EXPECT_EQ(get("/dicom-web/studies", "Bearer robot-token").status, 403) << "write is not read";
  EXPECT_EQ(stow("Bearer robot-tokem").status, 401);
  const auto legacy = "Basic " + security::base64_encode("legacy:legacy-pw");
  auto found = get("/dicom-web/studies", legacy);
  EXPECT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(stow(legacy).status, 403);
  auto wrong = get("/dicom-web/studies", "Basic " + security::base64_encode("legacy:guess"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.header("www-authenticate").find("Basic realm=\"pacsnode\""), std::string::npos);
  auto preflight =
      testing::http_request(node_->http_port(), "OPTIONS", "/dicom-web/studies",
                            {"Origin: http://viewer.test", "Access-Control-Request-Method: GET"});
  EXPECT_EQ(preflight.status, 204);
}

TEST(AuthStart, HttpBeyondLoopbackWithoutAuthenticationIsRefused) {
  testing::TempDir dir;
  // The node must refuse before it binds anything: nothing listens beyond loopback in tests.
  auto run = testing::run({testing::pacsnode_binary(), "serve", "--data-dir",
                           (dir.path() / "data").string(), "--http-address", "0.0.0.0",
                           "--dimse-port", std::to_string(testing::free_port()), "--mllp-port", "0",
                           "--http-port", std::to_string(testing::free_port())});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("refusing to serve HTTP on 0.0.0.0 without authentication"),
            std::string::npos)
      << run.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "data" / "pacsnode.running"));
}

}  // namespace
}  // namespace pacs
