// TLS on the DIMSE face: DCMTK's tools over TLS against the node, plain connections and
// untrusted client certificates refused, and C-MOVE to a destination reached over TLS.
#include <dcmtk/dcmdata/dctagkey.h>
#include <gtest/gtest.h>

#include "security/tls.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/mllp.h"
#include "tests/support/process.h"
#include "tests/support/storescp.h"
#include "tests/support/test_node.h"
#include "tests/support/tls_files.h"

namespace pacs {
namespace {
using testing::TestNode;

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { files_ = new testing::TlsFiles; }
  static void TearDownTestSuite() { delete files_; }

  void SetUp() override {
    corpus_ = testing::generate_corpus(dir_.path() / "corpus",
                                       {"--patients", "1", "--studies", "1", "--series", "1",
                                        "--instances", "2", "--rows", "16", "--columns", "16"});
  }
  // A DCMTK tool against the node: flags, then the address, then any files.
  testing::CommandResult dcmtk(std::vector<std::string> argv, int port,
                               const std::vector<std::string>& after = {}) {
    argv.insert(argv.end(), {"-aec", "PACSNODE", "127.0.0.1", std::to_string(port)});
    argv.insert(argv.end(), after.begin(), after.end());
    return testing::run(argv, std::chrono::seconds(60), {"TCP_NODELAY=1"});
  }
  std::vector<std::string> client_tls(bool rogue = false) {
    return {"+tls", rogue ? files_->rogue_key() : files_->client_key(),
            rogue ? files_->rogue_certificate() : files_->client_certificate(), "+cf",
            files_->ca()};
  }
  std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  static testing::TlsFiles* files_;
  testing::TempDir dir_;
  std::vector<std::filesystem::path> corpus_;
};
testing::TlsFiles* TlsTest::files_ = nullptr;

TEST_F(TlsTest, DimseOverTlsOnlyWithTrustedClientCertificates) {
  auto flags = files_->node_flags();
  flags.insert(flags.end(), {"--dimse-tls", "--tls-client-certificates", "require"});
  TestNode node({.db = "sqlite", .extra_flags = flags});
  node.start();
  const int port = node.dimse_port();
  const std::vector<std::string> paths = {corpus_[0].string(), corpus_[1].string()};

  auto stored = dcmtk(with({"storescu"}, client_tls()), port, paths);
  ASSERT_EQ(stored.exit_code, 0) << stored.output << node.log();
  EXPECT_EQ(node.open_index()->counts()->instances, 2);
  auto found =
      dcmtk(with({"findscu", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID"},
                 client_tls()),
            port);
  EXPECT_EQ(found.exit_code, 0) << found.output;

  EXPECT_NE(dcmtk({"echoscu"}, port).exit_code, 0) << "a plain connection is refused";
  auto rogue = dcmtk(with({"echoscu"}, client_tls(true)), port);
  EXPECT_NE(rogue.exit_code, 0) << "a certificate from an untrusted CA is refused";
  auto anonymous = dcmtk({"echoscu", "+tla", "+cf", files_->ca()}, port);
  EXPECT_NE(anonymous.exit_code, 0) << "no certificate at all is refused when one is required";
  EXPECT_TRUE(node.running());
  EXPECT_EQ(dcmtk(with({"echoscu"}, client_tls()), port).exit_code, 0) << "and it serves on";
}

TEST_F(TlsTest, CMoveReachesADestinationOverTls) {
  // The destination: storescp over TLS, trusting our CA, requiring the node's certificate.
  testing::Storescp destination(
      {"+tls", files_->client_key(), files_->client_certificate(), "+cf", files_->ca()});
  auto flags = files_->node_flags();
  flags.insert(flags.end(), {"--peer", "DEST=127.0.0.1:" + std::to_string(destination.port()),
                             "--peer-tls", "DEST"});
  TestNode node({.db = "sqlite", .extra_flags = flags});
  node.start();
  ASSERT_EQ(
      testing::storescu(node.dimse_port(), {corpus_[0].string(), corpus_[1].string()}).exit_code,
      0);
  auto moved = testing::run_dcmtk_tool(
      {"movescu", "-S", "-aec", "PACSNODE", "-aem", "DEST"},
      {"QueryRetrieveLevel=STUDY",
       "StudyInstanceUID=" + testing::value_of(corpus_[0], DcmTagKey(0x0020, 0x000D))},
      node.dimse_port());
  EXPECT_EQ(moved.exit_code, 0) << moved.output << node.log();
  EXPECT_EQ(destination.files().size(), 2u);
}

security::SslContext context(const testing::TlsFiles& files, bool server, bool rogue = false) {
  security::TlsSettings settings;
  settings.certificate = rogue    ? files.rogue_certificate()
                         : server ? files.server_certificate()
                                  : files.client_certificate();
  settings.private_key = rogue    ? files.rogue_key()
                         : server ? files.server_key()
                                  : files.client_key();
  settings.ca_file = files.ca();
  settings.client_certificates = security::TlsSettings::ClientCertificates::Require;
  auto made =
      server ? security::make_server_context(settings) : security::make_client_context(settings);
  if (!made) throw std::runtime_error(made.error().message);
  return *made;
}

testing::Order order(int n) {
  return testing::numbered_order("TLS", n, "TLSPAT");
}

TEST_F(TlsTest, MllpOverTlsOnlyWithTrustedClientCertificates) {
  auto flags = files_->node_flags();
  flags.insert(flags.end(), {"--mllp-tls", "--tls-client-certificates", "require"});
  TestNode node({.db = "sqlite", .extra_flags = flags});
  node.start();
  {
    testing::MllpClient client(node.mllp_port(), context(*files_, false));
    for (int n = 1; n <= 3; ++n) {
      auto ack = client.exchange(testing::orm(order(n)));
      ASSERT_TRUE(ack) << node.log();
      EXPECT_EQ(testing::ack_code(*ack), "AA");
    }
  }
  EXPECT_TRUE(node.open_index()->find_order("TLSP3", "").value().has_value());

  testing::MllpClient plain(node.mllp_port());
  EXPECT_FALSE(plain.exchange(testing::orm(order(4)), std::chrono::seconds(5)))
      << "plain MLLP gets no answer";
  // With TLS 1.3 the client may finish its side of the handshake before the server refuses its
  // certificate: then the refusal shows as no answer.
  bool refused = false;
  try {
    testing::MllpClient rogue(node.mllp_port(), context(*files_, false, true));
    refused = !rogue.exchange(testing::orm(order(5)), std::chrono::seconds(5));
  } catch (const std::runtime_error&) {
    refused = true;
  }
  EXPECT_TRUE(refused) << "a certificate from an untrusted CA fails the handshake";
  EXPECT_FALSE(node.open_index()->find_order("TLSP4", "").value().has_value());
  EXPECT_FALSE(node.open_index()->find_order("TLSP5", "").value().has_value());
  EXPECT_NE(node.log().find("TLS handshake failed"), std::string::npos);
}

TEST_F(TlsTest, HttpsOnlyWithCurlAndTrustedClientCertificates) {
  auto flags = files_->node_flags();
  flags.insert(flags.end(), {"--http-tls", "--tls-client-certificates", "optional"});
  TestNode node({.db = "sqlite", .extra_flags = flags});
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {corpus_[0].string()}).exit_code, 0);
  const int port = node.http_port();
  const std::vector<std::string> trusting = {"--cacert", files_->ca()};
  auto studies = testing::https_request(port, "GET", "/dicom-web/studies", trusting,
                                        {"Accept: application/dicom+json"});
  ASSERT_EQ(studies.status, 200) << studies.error << node.log();
  EXPECT_NE(studies.body.find("https://127.0.0.1:" + std::to_string(port) + "/dicom-web/studies/"),
            std::string::npos)
      << "Retrieve URLs name the scheme the client used: " << studies.body;
  // WADO-RS streams files through TLS (no sendfile there): the bytes are the stored ones.
  const auto study = testing::value_of(corpus_[0], DcmTagKey(0x0020, 0x000D));
  auto retrieved = testing::https_request(port, "GET", "/dicom-web/studies/" + study, trusting);
  EXPECT_EQ(retrieved.status, 200);
  EXPECT_NE(retrieved.body.find(testing::dataset_bytes(corpus_[0]).substr(0, 4096)),
            std::string::npos);
  auto with_certificate =
      testing::https_request(port, "GET", "/health",
                             {"--cacert", files_->ca(), "--cert", files_->client_certificate(),
                              "--key", files_->client_key()});
  EXPECT_EQ(with_certificate.status, 200);

  EXPECT_EQ(testing::http_request(port, "GET", "/health").status, 0) << "plain HTTP is refused";
  EXPECT_EQ(testing::https_request(port, "GET", "/health", {}).status, 0)
      << "curl does not trust the node without the CA";
  EXPECT_EQ(testing::https_request(port, "GET", "/health",
                                   {"--cacert", files_->ca(), "--cert", files_->rogue_certificate(),
                                    "--key", files_->rogue_key()})
                .status,
            0)
      << "a client certificate that is sent must verify";
  EXPECT_EQ(testing::https_request(port, "GET", "/health", trusting).status, 200);
}

TEST_F(TlsTest, OutboundHl7ReachesADestinationOverTls) {
  const int ris_port = testing::free_port();
  testing::MllpListener ris(ris_port, context(*files_, true));
  auto flags = files_->node_flags();
  flags.insert(flags.end(), {"--hl7-destination", "RIS=127.0.0.1:" + std::to_string(ris_port),
                             "--hl7-destination-tls", "RIS", "--study-quiet-seconds", "1"});
  TestNode node({.db = "sqlite", .extra_flags = flags});
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {corpus_[0].string()}).exit_code, 0);
  EXPECT_TRUE(ris.wait_for("ORU^R01", std::chrono::seconds(30))) << node.log();
}

}  // namespace
}  // namespace pacs
