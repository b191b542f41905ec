// The operations endpoints on a real node: /health and /ready without credentials, /metrics for
// admins only, its counters moving with what the node is sent (C-STORE, STOW-RS, HL7, HTTP).
#include <dcmtk/dcmdata/dctagkey.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>
#include <sstream>
#include <thread>

#include "security/secrets.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/mllp.h"
#include "tests/support/process.h"
#include "tests/support/storescp.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
using testing::TestNode;

// The value of one sample of the exposition (name with its labels, as written), or -1.
double sample(const std::string& exposition, const std::string& series) {
  const auto at = exposition.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + series.size() + 2));
}

TEST(Operations, ProbesAreOpenAndMetricsMoveWithTheTraffic) {
  testing::TempDir dir;
  TestNode node(
      {.db = "sqlite",
       .extra_flags = {"--api-token", "ops:admin:" + security::hash_token("ops-token"),
                       "--api-token", "viewer:read:" + security::hash_token("viewer-token")}});
  node.start();
  const int port = node.http_port();
  EXPECT_EQ(testing::http_request(port, "GET", "/health").status, 200);
  auto ready = testing::http_request(port, "GET", "/ready");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(testing::http_request(port, "GET", "/metrics").status, 401);
  EXPECT_EQ(
      testing::http_request(port, "GET", "/metrics", {"Authorization: Bearer viewer-token"}).status,
      403);
  auto scrape = [&] {
    auto r = testing::http_request(port, "GET", "/metrics", {"Authorization: Bearer ops-token"});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    return "\n" + r.body;
  };
  const std::string before = scrape();
  EXPECT_GT(sample(before, "pacsnode_storage_free_bytes"), 0);
  EXPECT_EQ(sample(before, "pacsnode_queue_items{queue=\"forwarding\",state=\"pending\"}"), 0);

  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "3", "--rows", "16", "--columns", "16"});
  ASSERT_EQ(testing::storescu(node.dimse_port(), {files[0].string(), files[1].string()}).exit_code,
            0);
  ASSERT_EQ(
      testing::stow(port, {files[2]}, dir.path() / "body", {"Authorization: Bearer ops-token"})
          .status,
      200);
  ASSERT_EQ(testing::storescu(node.dimse_port(), {files[0].string()}).exit_code, 0);  // again
  const auto order = testing::numbered_order("OPS", 1, "OPSPAT");
  testing::MllpClient mllp(node.mllp_port());
  ASSERT_EQ(testing::ack_code(mllp.exchange(testing::orm(order)).value_or("")), "AA");
  ASSERT_TRUE(mllp.exchange("MSH|^~\\&|RIS|H|PACS|H|20260101||ZZZ^Z01|OPS2|P|2.5\r"));
  EXPECT_EQ(testing::http_request(port, "GET", "/dicom-web/studies",
                                  {"Authorization: Bearer viewer-token"})
                .status,
            200);

  const std::string after = scrape();
  EXPECT_EQ(sample(after, "pacsnode_instances_received_total{outcome=\"stored\"}"), 3) << after;
  EXPECT_EQ(sample(after, "pacsnode_instances_received_total{outcome=\"identical_resend\"}"), 1);
  std::uint64_t bytes = 0;
  for (const auto& f : files) bytes += std::filesystem::file_size(f);
  EXPECT_GE(sample(after, "pacsnode_stored_bytes_total"), static_cast<double>(bytes) * 0.9);
  EXPECT_GE(sample(after, "pacsnode_dimse_associations_total"), 2);
  EXPECT_EQ(sample(after, "pacsnode_dimse_associations_active"), 0);
  EXPECT_EQ(sample(after, "pacsnode_hl7_messages_total{type=\"ORM^O01\",ack=\"AA\"}"), 1);
  EXPECT_EQ(sample(after, "pacsnode_hl7_messages_total{type=\"other\",ack=\"AR\"}"), 1);
  EXPECT_EQ(sample(after,
                   "pacsnode_http_requests_total{route=\"/dicom-web/studies\",method="
                   "\"POST\",status=\"200\"}"),
            1);
  EXPECT_EQ(sample(after,
                   "pacsnode_http_requests_total{route=\"/metrics\",method=\"GET\","
                   "status=\"401\"}"),
            1);
  EXPECT_EQ(sample(after,
                   "pacsnode_http_request_duration_seconds_count{route=\"/dicom-web/"
                   "studies\"}"),
            2);
  EXPECT_EQ(sample(after,
                   "pacsnode_http_request_duration_seconds_bucket{route=\"/dicom-web/"
                   "studies\",le=\"+Inf\"}"),
            2);
}

TEST(Operations, ReadyTurnsTo503WhenTheDataDiskIsAtItsReserve) {
  // A reserve larger than any disk here: the node is alive but not ready for new objects.
  TestNode node({.db = "sqlite", .extra_flags = {"--min-free-mb", "1048576"}});
  node.start();
  EXPECT_EQ(testing::http_request(node.http_port(), "GET", "/health").status, 200);
  auto ready = testing::http_request(node.http_port(), "GET", "/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("\"status\":\"not ready\""), std::string::npos) << ready.body;
  EXPECT_EQ(ready.header("retry-after"), "5");
}

TEST(Operations, JsonLogLinesNameTheirAssociationOrRequest) {
  testing::TempDir dir;
  TestNode node({.db = "sqlite", .extra_flags = {"--log-format", "json"}});
  node.start();
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "1", "--rows", "16", "--columns", "16"});
  ASSERT_EQ(testing::storescu(node.dimse_port(), {files[0].string()}).exit_code, 0);
  auto found = testing::http_request(node.http_port(), "GET", "/dicom-web/studies");
  ASSERT_EQ(found.status, 200);
  const std::string request_id = found.header("x-request-id");
  EXPECT_EQ(request_id.rfind("http-", 0), 0u) << request_id;
  ASSERT_EQ(node.stop(), 0);
  std::istringstream lines(node.log());
  int json_lines = 0, access_lines = 0, association_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;  // the test harness's own lines
    const auto object = testing::parse_json(line).as_object();
    ++json_lines;
    EXPECT_TRUE(object.contains("time") && object.contains("level") && object.contains("message"))
        << line;
    const std::string message(object.at("message").as_string());
    if (message.rfind("HTTP GET /dicom-web/studies 200", 0) == 0) {
      ++access_lines;
      EXPECT_EQ(object.at("context").as_string(), request_id);
    }
    if (object.contains("context") && object.at("context").as_string().starts_with("assoc-"))
      ++association_lines;
  }
  EXPECT_GT(json_lines, 3);
  EXPECT_EQ(access_lines, 1);
  EXPECT_GE(association_lines, 1) << node.log();
}

TEST(Operations, SighupReloadsPeersAndRoutingRules) {
  testing::TempDir dir;
  testing::Storescp destination;
  const auto config = dir.path() / "pacsnode.toml";
  testing::write_all(config, "aet = \"PACSNODE\"\n");
  TestNode node({.db = "sqlite",
                 .extra_flags = {"--config", config.string(), "--route-retry-seconds", "0.2"}});
  node.start();
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "2", "--rows", "16", "--columns", "16"});
  const auto study = testing::value_of(files[0], DcmTagKey(0x0020, 0x000D));
  auto move = [&] {
    return testing::run_dcmtk_tool({"movescu", "-S", "-aec", "PACSNODE", "-aem", "DEST"},
                                   {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study},
                                   node.dimse_port());
  };
  ASSERT_EQ(testing::storescu(node.dimse_port(), {files[0].string()}).exit_code, 0);
  EXPECT_NE(move().output.find("Refused: MoveDestinationUnknown"), std::string::npos)
      << "DEST is not a peer yet";
  auto wait_for_log = [&](const std::string& text) {
    for (int i = 0; i < 100; ++i) {
      if (node.log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };

  testing::write_all(config,
                     "aet = \"PACSNODE\"\nroutes = [\"->DEST\"]\n[peers]\nDEST = \"127.0.0.1:" +
                         std::to_string(destination.port()) + "\"\n");
  ASSERT_EQ(::kill(node.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_log("configuration reloaded: 1 peers, 1 routing rules")) << node.log();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {files[1].string()}).exit_code, 0);
  for (int i = 0; i < 100 && destination.files().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(destination.files().size(), 1u) << "the new rule forwards what arrives now";
  EXPECT_EQ(move().exit_code, 0);
  EXPECT_EQ(destination.files().size(), 2u) << "and DEST is a C-MOVE destination";

  // A broken file is refused and the running configuration stays.
  testing::write_all(config, "[peers\n");
  ASSERT_EQ(::kill(node.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_log("reload refused, the running configuration stays")) << node.log();
  EXPECT_EQ(move().exit_code, 0);
  EXPECT_TRUE(node.running());
}

TEST(Operations, AStopFinishesTheUploadUnderWay) {
  testing::TempDir dir;
  TestNode node({.db = "sqlite", .extra_flags = {}});
  node.start();
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "1", "--rows", "512", "--columns", "512"});
  const auto body = dir.path() / "body";
  const std::string boundary = "drain-boundary";
  testing::write_multipart(body, boundary, files);
  // About four seconds of upload at 128 KB/s; the node is told to stop one second in.
  const auto answer = dir.path() / "answer";
  testing::Background upload(
      {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--limit-rate", "128k", "-X", "POST",
       "-H", "Content-Type: multipart/related; type=\"application/dicom\"; boundary=" + boundary,
       "--data-binary", "@" + body.string(),
       "http://127.0.0.1:" + std::to_string(node.http_port()) + "/dicom-web/studies"},
      answer.string());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ASSERT_TRUE(upload.running()) << "the upload must still be under way when the stop comes";
  EXPECT_EQ(node.stop(), 0) << node.log();
  for (int i = 0; i < 100 && upload.running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(testing::read_all(answer), "200") << node.log();
  EXPECT_NE(node.log().find("HTTP: finishing 1 requests"), std::string::npos);
  EXPECT_EQ(node.open_index()->counts()->instances, 1);
}

}  // namespace
}  // namespace pacs
