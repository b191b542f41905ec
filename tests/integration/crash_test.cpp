// SIGKILL in the middle of a storescu run: every acknowledged instance survives, index and files
// agree.
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/dicom_files.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

// storescu -v prints "Sending file: PATH" and then the response for it.
std::set<std::string> acknowledged_files(const std::string& log) {
  std::set<std::string> acked;
  std::istringstream in(log);
  std::string line, current;
  for (int lines = 0; std::getline(in, line) && lines < 1000000; ++lines) {
    if (auto at = line.find("Sending file: "); at != std::string::npos)
      current = line.substr(at + 14);
    if (line.find("Received Store Response (Success)") != std::string::npos) acked.insert(current);
  }
  return acked;
}

std::size_t count_acks(const fs::path& log) {
  std::ifstream in(log);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find("Received Store Response (Success)") != std::string::npos) ++n;
  return n;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The index and the object folder describe the same set of files, every one readable.
void expect_index_and_files_agree(const TestNode& node) {
  auto rows = node.open_index()->all_instances();
  ASSERT_TRUE(rows);
  std::set<std::string> indexed, on_disk;
  for (const auto& row : *rows) {
    indexed.insert(row.relative_path);
    const auto path = node.data_dir() / row.relative_path;
    ASSERT_TRUE(fs::exists(path)) << row.relative_path;
    EXPECT_EQ(fs::file_size(path), row.size_bytes) << row.relative_path;
    DcmFileFormat ff;
    EXPECT_TRUE(ff.loadFile(path.c_str()).good()) << row.relative_path;
  }
  for (const auto& file : testing::files_below(node.data_dir() / "objects"))
    on_disk.insert(fs::relative(file, node.data_dir()).string());
  EXPECT_EQ(indexed, on_disk);
  EXPECT_EQ(indexed.size(), rows->size()) << "two rows share a file";
}

class CrashTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CrashTest, KilledMidRunLosesNoAcknowledgedInstance) {
  std::string url;
  PACS_REQUIRE_BACKEND(GetParam(), url);
  testing::TempDir corpus;
  const auto data = corpus.path() / "data";
  const auto files =
      testing::generate_corpus(data, {"--patients", "1", "--studies", "1", "--series", "2",
                                      "--instances", "150", "--rows", "256", "--columns", "256"});
  TestNode node({.db = url, .extra_flags = {}});
  std::set<std::string> acked_ever;
  // Three kills in a row, each at a different point of a fresh storescu run over the corpus.
  for (std::size_t round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    node.start();
    const auto log = corpus.path() / ("storescu" + std::to_string(round) + ".log");
    testing::Background sender({"storescu", "-v", "-aec", "PACSNODE", "+sd", "+r", "127.0.0.1",
                                std::to_string(node.dimse_port()), data.string()},
                               log.string(), {"TCP_NODELAY=1"});
    const std::size_t kill_after = 20 + 30 * round;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (count_acks(log) < kill_after && sender.running() &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    node.kill_hard();
    sender.stop();
    const auto acked = acknowledged_files(read_text(log));
    ASSERT_GE(acked.size(), kill_after) << read_text(log) << node.log();
    acked_ever.insert(acked.begin(), acked.end());

    node.start();  // recovers from the unclean stop
    auto index = node.open_index();
    for (const auto& file : acked_ever) {
      const auto sop = testing::identity_of(file).sop_instance_uid;
      auto row = index->find_instance(sop);
      ASSERT_TRUE(row && *row) << "acknowledged " << sop << " is missing after the crash";
      EXPECT_EQ(testing::dataset_bytes(node.data_dir() / (*row)->relative_path),
                testing::dataset_bytes(file));
    }
    expect_index_and_files_agree(node);
    node.stop();
  }
  // After all that, a full run completes and the corpus is whole.
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {data.string()}).exit_code, 0);
  EXPECT_EQ(node.open_index()->counts()->instances, 300);
  expect_index_and_files_agree(node);
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
