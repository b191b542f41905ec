// The PostgreSQL index goes away and comes back (a server of the test's own, stopped and
// started): while it is down every face fails cleanly with its own answer (C-STORE A700, STOW-RS
// and QIDO-RS 503, HL7 AE 207 unrecorded) and keeps running; once it is back the node reconnects
// by itself, with no request lost to a stale connection, and what was refused goes through.
#include <gtest/gtest.h>

#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/mllp.h"
#include "tests/support/pg_server.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

std::vector<fs::path> small_corpus(const fs::path& dir, int seed, int instances) {
  return testing::generate_corpus(
      dir, {"--seed", std::to_string(seed), "--patients", "1", "--studies", "1", "--series", "1",
            "--instances", std::to_string(instances), "--rows", "32", "--columns", "32"});
}

TEST(DatabaseRestart, RequestsFailCleanlyWhileItIsDownAndTheNodeReconnectsByItself) {
  std::string shared_url;
  PACS_REQUIRE_BACKEND("postgresql", shared_url);  // PostgreSQL is installed (and CI has it)
  testing::PgServer pg;
  testing::TempDir work;
  const auto before = small_corpus(work.path() / "before", 21, 3);
  const auto during = small_corpus(work.path() / "during", 22, 2);
  const auto web = small_corpus(work.path() / "web", 23, 1);
  TestNode node({.db = pg.url(), .extra_flags = {}});
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {(work.path() / "before").string()}).exit_code, 0);
  testing::MllpClient hl7(node.mllp_port());
  const testing::Order first{
      .control_id = "DB1", .placer = "DP1", .filler = "DF1", .accession = "DA1"};
  ASSERT_EQ(testing::ack_code(hl7.exchange(testing::orm(first)).value_or("")), "AA");

  pg.stop();
  const auto refused =
      testing::storescu_each(node.dimse_port(), {(work.path() / "during").string()});
  const std::size_t out_of_resources =
      testing::responses_with(refused.output, "Refused: OutOfResources");
  EXPECT_EQ(out_of_resources, during.size()) << refused.output;
  const auto stowed = testing::stow(node.http_port(), {web[0]}, work.path() / "body");
  EXPECT_EQ(stowed.status, 503) << stowed.body;
  EXPECT_EQ(testing::http_request(node.http_port(), "GET", "/dicom-web/studies").status, 503);
  const testing::Order second{
      .control_id = "DB2", .placer = "DP2", .filler = "DF2", .accession = "DA2"};
  const auto not_now = hl7.exchange(testing::orm(second)).value_or("");
  EXPECT_EQ(testing::ack_code(not_now), "AE") << not_now;
  EXPECT_NE(not_now.find("207"), std::string::npos) << not_now;
  ASSERT_TRUE(node.running()) << node.log();

  // Back up: the very first request of each face works (no stale connection is used), and what
  // was refused goes through now.
  pg.start();
  EXPECT_EQ(testing::http_request(node.http_port(), "GET", "/dicom-web/studies").status, 200);
  EXPECT_EQ(testing::storescu(node.dimse_port(), {(work.path() / "during").string()}).exit_code, 0);
  EXPECT_EQ(testing::stow(node.http_port(), {web[0]}, work.path() / "body").status, 200);
  EXPECT_EQ(testing::ack_code(hl7.exchange(testing::orm(second)).value_or("")), "AA");

  // A restart while the node is idle goes unnoticed by its clients.
  pg.stop();
  pg.start();
  EXPECT_EQ(testing::http_request(node.http_port(), "GET", "/dicom-web/studies").status, 200);
  const testing::Order third{
      .control_id = "DB3", .placer = "DP3", .filler = "DF3", .accession = "DA3"};
  EXPECT_EQ(testing::ack_code(hl7.exchange(testing::orm(third)).value_or("")), "AA");

  auto index = node.open_index();
  for (const char* placer : {"DP1", "DP2", "DP3"})
    EXPECT_TRUE(index->find_order(placer, "")->has_value()) << placer;
  EXPECT_EQ(index->counts()->instances,
            static_cast<std::int64_t>(before.size() + during.size() + web.size()));
  ASSERT_EQ(node.stop(), 0);
  const auto checked = node.fsck();
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
}

}  // namespace
}  // namespace pacs
