// Store-and-forward: a rule forwards CT to a destination that is down at first; the queue survives
// a restart of the node, and every CT instance arrives once the destination is up.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

std::string modality_of(const fs::path& f) {
  DcmFileFormat ff;
  ff.loadFile(f.c_str(), EXS_Unknown, EGL_noChange, 1024);
  OFString v;
  ff.getDataset()->findAndGetOFString(DCM_Modality, v);
  return v.c_str();
}

class RoutingTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RoutingTest, CtIsForwardedOnceTheDestinationComesUpEvenAcrossARestart) {
  std::string url;
  PACS_REQUIRE_BACKEND(GetParam(), url);
  testing::TempDir dir;
  const int destination_port = testing::free_port();
  TestNode node({.db = url,
                 .extra_flags = {"--peer", "DEST=127.0.0.1:" + std::to_string(destination_port),
                                 "--route", "modality=CT->DEST", "--route-retry-seconds", "0.2"}});
  node.start();
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "1", "--series", "3", "--instances",
                              "4", "--rows", "32", "--columns", "32", "--modality", "mixed"});
  std::set<std::string> ct;
  for (const auto& f : files)
    if (modality_of(f) == "CT") ct.insert(testing::identity_of(f).sop_instance_uid);
  ASSERT_EQ(ct.size(), 4u);
  ASSERT_EQ(testing::storescu(node.dimse_port(), {(dir.path() / "corpus").string()}).exit_code, 0);

  // The destination is down: the items wait, having been tried.
  const auto tried_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < tried_by &&
         node.open_index()->queue_items("pending", 100).value().at(0).attempts == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(node.queue_count("pending"), 4);
  EXPECT_EQ(node.stop(), 0);

  // Restart; then the destination comes up.
  node.start();
  fs::create_directories(dir.path() / "received");
  testing::Background receiver(
      {"storescp", "-aet", "DEST", "--output-directory", (dir.path() / "received").string(),
       std::to_string(destination_port)},
      (dir.path() / "storescp.log").string(), {"TCP_NODELAY=1"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && node.queue_count("sent") < 4)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(node.queue_count("sent"), 4) << node.log();
  EXPECT_EQ(node.queue_count("pending"), 0);
  std::set<std::string> received;
  for (const auto& f : testing::files_below(dir.path() / "received")) {
    const auto sop = testing::identity_of(f).sop_instance_uid;
    received.insert(sop);
    for (const auto& original : files) {
      if (testing::identity_of(original).sop_instance_uid != sop) continue;
      EXPECT_TRUE(testing::dataset_bytes(f) == testing::dataset_bytes(original)) << sop;
    }
  }
  EXPECT_EQ(received, ct);  // CT only, every one, once

  auto shown = testing::run(
      {testing::pacsnode_binary(), "queue", "--data-dir", node.data_dir().string(), "--db", url});
  EXPECT_EQ(shown.exit_code, 0);
  EXPECT_NE(shown.output.find("outbound queue: 0 pending, 4 sent, 0 failed"), std::string::npos)
      << shown.output;
}

TEST_P(RoutingTest, AForwardThatExhaustsItsAttemptsIsKeptAsFailedWithItsReason) {
  std::string url;
  PACS_REQUIRE_BACKEND(GetParam(), url);
  testing::TempDir dir;
  TestNode node({.db = url,
                 .extra_flags = {"--peer", "DEST=127.0.0.1:" + std::to_string(testing::free_port()),
                                 "--route", "->DEST,NOTAPEER", "--route-retry-seconds", "0.1",
                                 "--route-max-attempts", "2"}});
  node.start();
  const auto files = testing::generate_corpus(
      dir.path(), {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "1"});
  ASSERT_EQ(testing::storescu(node.dimse_port(), {files[0].string()}).exit_code, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && node.queue_count("failed") < 2)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto failed = node.open_index()->queue_items("failed", 10).value();
  ASSERT_EQ(failed.size(), 2u);
  std::set<std::string> reasons;
  for (const auto& item : failed) {
    EXPECT_EQ(item.attempts, 2);
    reasons.insert(item.last_error);
  }
  EXPECT_TRUE(reasons.count("destination NOTAPEER is not a configured peer (--peer)"));
  EXPECT_EQ(node.log().find("gave up after 2 attempts") == std::string::npos, false);

  // The web UI's view of the queue, and an operator's retry: the item is attempted again (and,
  // the destination still down, fails again).
  const auto listed =
      testing::http_request(node.http_port(), "GET", "/api/forwarding?state=failed", {});
  ASSERT_EQ(listed.status, 200);
  const auto items = testing::parse_json(listed.body).as_array();
  ASSERT_EQ(items.size(), 2u);
  const std::int64_t id = failed.at(0).id;
  const auto retried = testing::http_request(
      node.http_port(), "POST", "/api/forwarding/" + std::to_string(id) + "/retry", {});
  EXPECT_EQ(retried.status, 200) << retried.body;
  const auto again = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::int64_t attempts = 0;
  while (std::chrono::steady_clock::now() < again && attempts < 3) {
    const auto now_failed = node.open_index()->queue_items("failed", 10);
    for (const auto& item : now_failed.value())
      if (item.id == id) attempts = item.attempts;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(attempts, 3) << "the retried item was not attempted again\n" << node.log();
  EXPECT_EQ(
      testing::http_request(node.http_port(), "POST", "/api/forwarding/424242/retry", {}).status,
      404);
}

INSTANTIATE_TEST_SUITE_P(Backends, RoutingTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
