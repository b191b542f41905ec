// A data disk that fills up (a small tmpfs mounted on the node's data directory): ingest is
// refused with each protocol's own answer (C-STORE A700, STOW-RS 507, HL7 AE 207), the node keeps
// serving reads, nothing half-written is left behind, and ingest resumes by itself once space
// returns.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/mllp.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

// A tmpfs of `megabytes` mounted on dir for as long as this lives (needs root: CI runs as root).
class SmallDisk {
 public:
  SmallDisk(const fs::path& dir, int megabytes) : dir_(dir) {
    const auto mounted =
        testing::run({"mount", "-t", "tmpfs", "-o", "size=" + std::to_string(megabytes) + "m",
                      "tmpfs", dir.string()});
    ok_ = mounted.exit_code == 0;
    error_ = mounted.output;
  }
  ~SmallDisk() {
    if (ok_) testing::run({"umount", "-l", dir_.string()});
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

 private:
  fs::path dir_;
  bool ok_ = false;
  std::string error_;
};

// Writes `path` until the disk has no room left; bounded by `max_mb`.
void fill_disk(const fs::path& path, int max_mb) {
  std::ofstream out(path, std::ios::binary);
  const std::string block(1 << 16, 'f');
  for (int i = 0; i < max_mb * 16 && out.write(block.data(), block.size()); ++i) {
  }
  out.flush();
}

std::size_t free_mb(const fs::path& dir) {
  return static_cast<std::size_t>(fs::space(dir).available >> 20);
}

class DiskFullTest : public ::testing::TestWithParam<const char*> {};

TEST_P(DiskFullTest, IngestIsRefusedWhileTheDiskIsFullAndResumesWhenSpaceReturns) {
  std::string url;
  PACS_REQUIRE_BACKEND(GetParam(), url);
  if (::geteuid() != 0) {
    if (std::getenv("CI")) FAIL() << "CI runs as root, which mounting a small disk needs";
    GTEST_SKIP() << "mounting a tmpfs needs root";
  }
  testing::TempDir work;
  const auto before = testing::generate_corpus(
      work.path() / "before", {"--seed", "11", "--patients", "1", "--studies", "1", "--series", "1",
                               "--instances", "4", "--rows", "64", "--columns", "64"});
  const auto during = testing::generate_corpus(
      work.path() / "during", {"--seed", "12", "--patients", "1", "--studies", "1", "--series", "1",
                               "--instances", "3", "--rows", "64", "--columns", "64"});
  const auto web = testing::generate_corpus(
      work.path() / "web", {"--seed", "13", "--patients", "1", "--studies", "1", "--series", "1",
                            "--instances", "1", "--rows", "64", "--columns", "64"});
  TestNode node({.db = url, .extra_flags = {"--min-free-mb", "2"}});
  SmallDisk disk(node.data_dir(), 16);
  ASSERT_TRUE(disk.ok()) << disk.error();
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {(work.path() / "before").string()}).exit_code, 0);
  testing::MllpClient hl7(node.mllp_port());
  testing::Order first{.control_id = "FULL1", .placer = "FP1", .filler = "FF1", .accession = "FA1"};
  const auto accepted = hl7.exchange(testing::orm(first)).value_or("");
  ASSERT_EQ(testing::ack_code(accepted), "AA") << accepted;

  // The disk fills (a neighbour's file, say).
  const auto filler = node.data_dir() / "filler";
  fill_disk(filler, 32);
  ASSERT_LT(free_mb(node.data_dir()), 2u);

  const auto refused =
      testing::storescu_each(node.dimse_port(), {(work.path() / "during").string()});
  const std::size_t out_of_resources =
      testing::responses_with(refused.output, "Refused: OutOfResources");
  EXPECT_EQ(out_of_resources, during.size()) << "every C-STORE answered A700:\n" << refused.output;
  EXPECT_EQ(refused.output.find("Abort"), std::string::npos) << refused.output;

  const auto stowed = testing::stow(node.http_port(), {web[0]}, work.path() / "body");
  EXPECT_EQ(stowed.status, 507) << stowed.body;
  EXPECT_NE(stowed.body.find("data disk full"), std::string::npos) << stowed.body;

  testing::Order second{
      .control_id = "FULL2", .placer = "FP2", .filler = "FF2", .accession = "FA2"};
  const auto not_now = hl7.exchange(testing::orm(second)).value_or("");
  EXPECT_EQ(testing::ack_code(not_now), "AE") << not_now;
  EXPECT_NE(not_now.find("207"), std::string::npos) << not_now;

  // Reads go on.
  EXPECT_EQ(testing::http_request(node.http_port(), "GET", "/dicom-web/studies").status, 200);
  ASSERT_TRUE(node.running()) << node.log();
  EXPECT_TRUE(testing::files_below(node.data_dir() / "tmp").empty()) << "no temp file left";

  // Space returns: the same traffic now goes through, the HL7 message resent as a RIS would.
  fs::remove(filler);
  EXPECT_EQ(testing::storescu(node.dimse_port(), {(work.path() / "during").string()}).exit_code, 0);
  EXPECT_EQ(testing::stow(node.http_port(), {web[0]}, work.path() / "body").status, 200);
  EXPECT_EQ(testing::ack_code(hl7.exchange(testing::orm(second)).value_or("")), "AA");
  auto index = node.open_index();
  EXPECT_TRUE(index->find_order("FP2", "")->has_value()) << "the resent order was applied";
  EXPECT_EQ(index->counts()->instances,
            static_cast<std::int64_t>(before.size() + during.size() + web.size()));
  ASSERT_EQ(node.stop(), 0);
  const auto checked = node.fsck();
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
}

INSTANTIATE_TEST_SUITE_P(Backends, DiskFullTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
