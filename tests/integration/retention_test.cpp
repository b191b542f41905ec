// Retention on a corpus whose Study Dates span eight years: the dry run (GET /api/admin/retention
// and `pacsnode retention`) lists what is past its period and why, and what it must keep because
// its forwarding is not done; the real run removes exactly that list. A per-modality period keeps
// older CR studies; a study without a Study Date goes by its arrival. The disk rule removes the
// oldest studies of a nearly full data disk until it is below the low mark.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <set>

#include "security/secrets.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

// Gives each study of the corpus (in the order of their UIDs) a Study Date and a modality.
std::vector<std::string> date_studies(
    const std::vector<fs::path>& files,
    const std::vector<std::pair<std::string, std::string>>& ages) {
  std::map<std::string, std::vector<fs::path>> by_study;
  for (const auto& f : files) by_study[testing::value_of(f, DCM_StudyInstanceUID)].push_back(f);
  EXPECT_EQ(by_study.size(), ages.size());
  std::vector<std::string> studies;
  std::size_t i = 0;
  for (const auto& [study, its_files] : by_study) {
    if (i == ages.size()) break;
    const auto& [date, modality] = ages[i++];
    for (const auto& f : its_files) {
      DcmFileFormat ff;
      EXPECT_TRUE(ff.loadFile(f.c_str()).good());
      ff.loadAllDataIntoMemory();  // large values are read lazily: the file is rewritten in place
      DcmDataset& ds = *ff.getDataset();
      ds.putAndInsertString(DCM_StudyDate, date.c_str());
      ds.putAndInsertString(DCM_SeriesDate, date.c_str());
      ds.putAndInsertString(DCM_Modality, modality.c_str());
      EXPECT_TRUE(ff.saveFile(f.c_str(), EXS_LittleEndianExplicit).good());
    }
    studies.push_back(study);
  }
  return studies;
}

boost::json::array admin(TestNode& node, const std::string& method) {
  const auto r = testing::http_request(node.http_port(), method, "/api/admin/retention",
                                       {"Authorization: Bearer ops-token"});
  EXPECT_EQ(r.status, 200) << r.body;
  return r.status == 200 ? testing::parse_json(r.body).as_array() : boost::json::array{};
}

std::map<std::string, boost::json::object> by_uid(const boost::json::array& verdicts) {
  std::map<std::string, boost::json::object> out;
  for (const auto& v : verdicts)
    out[std::string(v.at("studyInstanceUID").as_string())] = v.as_object();
  return out;
}

class RetentionTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RetentionTest, ADryRunListsWhatTheRunThenRemovesAndUnforwardedStudiesStay) {
  std::string url;
  PACS_REQUIRE_BACKEND(GetParam(), url);
  testing::TempDir dir;
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "6", "--series", "1", "--instances",
                              "2", "--rows", "16", "--columns", "16"});
  // Today is taken from the clock: the dates are far enough from any boundary.
  const auto studies = date_studies(files, {{"20180310", "CT"},    // 0: goes (365 days)
                                            {"20200615", "MR"},    // 1: goes
                                            {"20230101", "CR"},    // 2: CR keeps 3650 days
                                            {"", "CT"},            // 3: no date, arrived now
                                            {"20190101", "CT"},    // 4: due, but not forwarded
                                            {"29991231", "CT"}});  // 5: in the future
  const int dead_port = testing::free_port();
  TestNode node(
      {.db = url,
       .extra_flags = {"--api-token", "ops:admin:" + security::hash_token("ops-token"),
                       "--retention-days", "365", "--retention-days-for", "CR=3650", "--peer",
                       "NOWHERE=127.0.0.1:" + std::to_string(dead_port), "--route",
                       "StudyDate=20190101->NOWHERE", "--route-retry-seconds", "3600"}});
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {(dir.path() / "corpus").string()}).exit_code, 0)
      << node.log();

  const auto planned = by_uid(admin(node, "GET"));
  EXPECT_EQ(planned.size(), 3u);
  ASSERT_TRUE(planned.count(studies[0]) && planned.count(studies[1]) && planned.count(studies[4]));
  EXPECT_FALSE(planned.at(studies[0]).at("kept").as_bool());
  EXPECT_FALSE(planned.at(studies[1]).at("kept").as_bool());
  EXPECT_TRUE(planned.at(studies[4]).at("kept").as_bool()) << "its forwarding is pending";
  EXPECT_NE(std::string(planned.at(studies[0]).at("reason").as_string()).find("20180310"),
            std::string::npos);
  EXPECT_EQ(planned.at(studies[0]).at("instances").to_number<int>(), 2);
  // The dry run removed nothing; the command line lists the same.
  EXPECT_EQ(node.open_index()->counts()->studies, 6);
  const auto listed = testing::run({testing::pacsnode_binary(), "retention", "--data-dir",
                                    node.data_dir().string(), "--db", node.db(), "--retention-days",
                                    "365", "--retention-days-for", "CR=3650"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("would remove " + studies[0]), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("would remove " + studies[1]), std::string::npos) << listed.output;
  EXPECT_EQ(listed.output.find(studies[2]), std::string::npos) << listed.output;

  // The run removes the two, keeps the unforwarded one.
  const auto removed = by_uid(admin(node, "POST"));
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_TRUE(removed.count(studies[0]) && removed.count(studies[1]));
  std::set<std::string> left;
  const auto qido = testing::http_request(node.http_port(), "GET", "/dicom-web/studies",
                                          {"Authorization: Bearer ops-token"});
  const boost::json::value found = testing::parse_json(qido.body);
  for (const auto& s : found.as_array())
    left.insert(std::string(s.at("0020000D").at("Value").as_array()[0].as_string()));
  EXPECT_EQ(left, (std::set<std::string>{studies[2], studies[3], studies[4], studies[5]}));
  EXPECT_EQ(testing::files_below(node.data_dir() / "objects").size(), 8u);
  EXPECT_TRUE(admin(node, "POST").empty());  // nothing more is due
  EXPECT_NE(
      testing::read_all_once_it_holds(node.data_dir() / "audit.log", studies[0]).find(studies[0]),
      std::string::npos);
  ASSERT_EQ(node.stop(), 0);
  EXPECT_EQ(node.fsck().exit_code, 0);
}

// A small tmpfs as the data disk: once it is at least HIGH% used, the oldest studies go until it
// is at most LOW% used; younger ones stay.
TEST(RetentionDisk, TheOldestStudiesGoWhenTheDiskPassesTheHighMark) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root)";
  testing::TempDir dir;
  // Six studies of ~1.6 MB each (12 instances of 256x256x16 bit) and the index on a 16 MB disk:
  // about 75% used.
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "6", "--series", "1", "--instances",
                              "12", "--rows", "256", "--columns", "256", "--bits", "16"});
  const auto studies = date_studies(files, {{"20200101", "CT"},
                                            {"20210101", "CT"},
                                            {"20220101", "CT"},
                                            {"20230101", "CT"},
                                            {"20240101", "CT"},
                                            {"20250101", "CT"}});
  TestNode node({.db = "sqlite",
                 .extra_flags = {"--api-token", "ops:admin:" + security::hash_token("ops-token"),
                                 "--retention-disk", "50:40", "--min-free-mb", "1"}});
  fs::create_directories(node.data_dir());
  const auto mounted =
      testing::run({"mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", node.data_dir().string()});
  ASSERT_EQ(mounted.exit_code, 0) << mounted.output;
  struct Unmount {
    fs::path dir;
    ~Unmount() { testing::run({"umount", "-l", dir.string()}); }
  } unmount{node.data_dir()};
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {(dir.path() / "corpus").string()}).exit_code, 0)
      << node.log();
  const auto used = [&] {
    const auto space = fs::space(node.data_dir());
    return 100 * (space.capacity - space.available) / space.capacity;
  };
  ASSERT_GE(used(), 50u) << "the corpus should fill the disk past the high mark";
  const auto removed = by_uid(admin(node, "POST"));
  EXPECT_LE(used(), 40u);
  ASSERT_FALSE(removed.empty());
  // Oldest first: what went is a prefix of the studies by date.
  for (std::size_t i = 0; i < studies.size(); ++i)
    EXPECT_EQ(removed.count(studies[i]) == 1, i < removed.size()) << "study " << i;
  EXPECT_LT(removed.size(), studies.size()) << "the youngest should stay";
  ASSERT_EQ(node.stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, RetentionTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
