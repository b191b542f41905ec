// The operations endpoints on a real node: /health and /ready without credentials, /metrics for
// admins only, its counters moving with what the node is sent (C-STORE, STOW-RS, HL7, HTTP).
#include <gtest/gtest.h>

#include <regex>

#include "security/secrets.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/mllp.h"
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
  testing::Order order;
  order.control_id = "OPS1";
  order.placer = "OPSP1";
  order.filler = "OPSF1";
  order.accession = "OPSA1";
  order.patient_id = "OPSPAT";
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

}  // namespace
}  // namespace pacs
