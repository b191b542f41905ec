// `pacsnode fsck`: a clean store passes; each kind of damage is found, the repairable ones are
// repaired (and nothing else is touched), and the node refuses to be checked while it runs.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdeftag.h>
#include <gtest/gtest.h>

#include <fstream>

#include "storage/sql/connection.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

// e2fsck's exit codes, which fsck follows.
constexpr int kClean = 0, kRepaired = 1, kLeftUncorrected = 4, kOperationalError = 8;

std::unique_ptr<sql::Connection> raw_index(const TestNode& node) {
  return node.db() == "sqlite" ? sql::open_sqlite((node.data_dir() / "index.sqlite").string())
                               : sql::open_postgresql(node.db());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class FsckTest : public ::testing::TestWithParam<const char*> {};

TEST_P(FsckTest, FindsEachKindOfDamageAndRepairsWhatItSafelyCan) {
  std::string url;
  PACS_REQUIRE_BACKEND(GetParam(), url);
  testing::TempDir corpus;
  const auto files = testing::generate_corpus(
      corpus.path() / "in", {"--patients", "1", "--studies", "1", "--series", "2", "--instances",
                             "5", "--rows", "64", "--columns", "64"});
  TestNode node({.db = url, .extra_flags = {}});
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {(corpus.path() / "in").string()}).exit_code, 0);
  const auto study = testing::value_of(files[0], DCM_StudyInstanceUID);
  // A metadata request leaves a cache file per instance.
  ASSERT_EQ(
      testing::http_request(node.http_port(), "GET", "/dicom-web/studies/" + study + "/metadata")
          .status,
      200);
  const auto running = node.fsck();
  EXPECT_EQ(running.exit_code, kOperationalError) << running.output;
  EXPECT_TRUE(contains(running.output, "stop it first")) << running.output;
  ASSERT_EQ(node.stop(), 0);

  const auto clean = node.fsck();
  EXPECT_EQ(clean.exit_code, kClean) << clean.output;
  EXPECT_TRUE(contains(clean.output, "checked 10 instances")) << clean.output;

  // Damage, one kind per instance; keep copies of what is changed to restore it at the end.
  auto rows = node.open_index()->all_instances();
  ASSERT_TRUE(rows && rows->size() == 10);
  const auto path_of = [&](std::size_t i) { return node.data_dir() / (*rows)[i].relative_path; };
  for (std::size_t i = 0; i < 3; ++i) fs::copy_file(path_of(i), corpus.path() / std::to_string(i));
  {
    std::fstream flip(path_of(0), std::ios::in | std::ios::out | std::ios::binary);
    flip.seekg(-1, std::ios::end);
    const char last = static_cast<char>(flip.get());
    flip.seekp(-1, std::ios::end);
    flip.put(static_cast<char>(last ^ 0x5A));
  }
  fs::remove(path_of(1));
  fs::resize_file(path_of(2), fs::file_size(path_of(2)) - 10);
  const auto stray = path_of(3).parent_path() / "stray.dcm";
  fs::copy_file(path_of(3), stray);
  const auto stale_cache = node.data_dir() / "cache" / "objects" / "gone.dcm.json";
  fs::create_directories(stale_cache.parent_path());
  std::ofstream(stale_cache) << "[]";
  const auto series = testing::value_of(files[0], DCM_SeriesInstanceUID);
  {
    auto sql = raw_index(node);
    const sql::Value no_checksum[] = {(*rows)[4].sop_instance_uid};
    sql->query("UPDATE instances SET checksum = '' WHERE sop_uid = ?", no_checksum);
    const sql::Value series_key[] = {series};
    sql->query("UPDATE series SET num_instances = 99 WHERE series_uid = ?", series_key);
    const sql::Value study_key[] = {study};
    sql->query("UPDATE studies SET modalities = 'XA' WHERE study_uid = ?", study_key);
  }

  const auto damaged = node.fsck();
  EXPECT_EQ(damaged.exit_code, kLeftUncorrected) << damaged.output;
  const auto& out = damaged.output;
  EXPECT_TRUE(contains(out, "checksum mismatch: " + (*rows)[0].sop_instance_uid)) << out;
  EXPECT_TRUE(contains(out, "missing file: " + (*rows)[1].sop_instance_uid)) << out;
  EXPECT_TRUE(contains(out, "size mismatch: " + (*rows)[2].sop_instance_uid)) << out;
  EXPECT_TRUE(contains(out, "no checksum recorded: " + (*rows)[4].sop_instance_uid)) << out;
  EXPECT_TRUE(
      contains(out, "file without index row: " + fs::relative(stray, node.data_dir()).string()))
      << out;
  EXPECT_TRUE(contains(out, "cache without object: cache/objects/gone.dcm.json")) << out;
  EXPECT_TRUE(contains(out, "wrong count: series " + series + " num_instances: recorded '99'"))
      << out;
  EXPECT_TRUE(contains(out, "wrong count: study " + study + " modalities: recorded 'XA'")) << out;
  EXPECT_TRUE(fs::exists(stray)) << "a check without --repair changes nothing";

  const auto repaired = node.fsck(true);
  EXPECT_EQ(repaired.exit_code, kLeftUncorrected) << repaired.output;
  EXPECT_FALSE(fs::exists(stray));
  EXPECT_TRUE(fs::exists(node.data_dir() / "lost+found" / fs::relative(stray, node.data_dir())))
      << "an orphan is kept aside, not deleted";
  EXPECT_FALSE(fs::exists(stale_cache));

  const auto after = node.fsck();
  EXPECT_EQ(after.exit_code, kLeftUncorrected) << after.output;
  EXPECT_FALSE(contains(after.output, "wrong count")) << after.output;
  EXPECT_FALSE(contains(after.output, "no checksum recorded")) << after.output;
  EXPECT_FALSE(contains(after.output, "without index row")) << after.output;
  EXPECT_TRUE(contains(after.output, "3 problems found, 3 outstanding")) << after.output;
  EXPECT_TRUE(contains(after.output, "restore them from a copy")) << after.output;

  // Restored from a copy, the store is whole again and the counts are what the rows say.
  for (std::size_t i = 0; i < 3; ++i)
    fs::copy_file(corpus.path() / std::to_string(i), path_of(i),
                  fs::copy_options::overwrite_existing);
  const auto restored = node.fsck();
  EXPECT_EQ(restored.exit_code, kClean) << restored.output;
  auto summary = node.open_index()->study_summary(study);
  ASSERT_TRUE(summary && *summary);
  EXPECT_EQ((*summary)->instance_count, 10);
  EXPECT_EQ((*summary)->modalities_in_study, "CT");
}

TEST_P(FsckTest, RepairOfAStoreWithOnlyRepairableProblemsExitsOne) {
  std::string url;
  PACS_REQUIRE_BACKEND(GetParam(), url);
  testing::TempDir corpus;
  testing::generate_corpus(corpus.path(), {"--patients", "1", "--studies", "1", "--series", "1",
                                           "--instances", "3", "--rows", "32", "--columns", "32"});
  TestNode node({.db = url, .extra_flags = {}});
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {corpus.path().string()}).exit_code, 0);
  ASSERT_EQ(node.stop(), 0);
  {
    auto sql = raw_index(node);
    sql->query("UPDATE patients SET num_instances = num_instances + 5");
  }
  EXPECT_EQ(node.fsck(true).exit_code, kRepaired);
  EXPECT_EQ(node.fsck().exit_code, kClean);
}

INSTANTIATE_TEST_SUITE_P(Backends, FsckTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
