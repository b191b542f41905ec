// C-STORE into the real node over several associations, for both index backends.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "tests/support/dicom_files.h"
#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

class StoreTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string url;
    PACS_REQUIRE_BACKEND(GetParam(), url);
    node_ = std::make_unique<TestNode>(TestNode::Options{.db = url, .extra_flags = {}});
    node_->start();
  }
  std::unique_ptr<TestNode> node_;
  testing::TempDir corpus_;
};

// Every stored file must hold exactly the dataset that was sent, and the index must know it.
void expect_stored_as_sent(const TestNode& node, const std::vector<fs::path>& sent) {
  auto index = node.open_index();
  for (const auto& file : sent) {
    const auto id = testing::identity_of(file);
    auto row = index->find_instance(id.sop_instance_uid);
    ASSERT_TRUE(row) << row.error().message;
    ASSERT_TRUE(*row) << id.sop_instance_uid << " is not in the index";
    EXPECT_EQ((*row)->transfer_syntax, id.transfer_syntax);
    const auto stored = node.data_dir() / (*row)->relative_path;
    EXPECT_EQ(fs::file_size(stored), (*row)->size_bytes);
    if (id.transfer_syntax == "1.2.840.10008.1.2.1.99") {
      // The sender deflates anew: the content must match, the compressed bytes need not.
      EXPECT_TRUE(testing::canonical_dataset(stored) == testing::canonical_dataset(file))
          << "stored content of " << id.sop_instance_uid << " differs from what was sent";
    } else {
      EXPECT_TRUE(testing::dataset_bytes(stored) == testing::dataset_bytes(file))
          << "stored bytes of " << id.sop_instance_uid << " differ from what was sent";
    }
  }
}

TEST_P(StoreTest, ACorpusSentOverFourAssociationsIsIndexedAndStoredByteForByte) {
  // 3 patients x 2 studies x 2 series x 5 instances, mixed modalities.
  const auto files = testing::generate_corpus(
      corpus_.path(), {"--patients", "3", "--studies", "2", "--series", "2", "--instances", "5",
                       "--rows", "128", "--columns", "128", "--modality", "mixed"});
  ASSERT_EQ(files.size(), 60u);
  // Four storescu processes at once, each with a quarter of the files.
  std::vector<std::vector<std::string>> groups(4);
  for (std::size_t i = 0; i < files.size(); ++i) groups[i % 4].push_back(files[i].string());
  std::vector<testing::StorescuResult> results(4);
  {
    std::vector<std::jthread> senders;
    for (int g = 0; g < 4; ++g)
      senders.emplace_back(
          [&, g] { results[g] = testing::storescu(node_->dimse_port(), groups[g]); });
  }
  for (const auto& r : results) ASSERT_EQ(r.exit_code, 0) << r.output << node_->log();

  auto index = node_->open_index();
  auto counts = index->counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->patients, 3);
  EXPECT_EQ(counts->studies, 6);
  EXPECT_EQ(counts->series, 12);
  EXPECT_EQ(counts->instances, 60);
  const auto rows = index->all_instances().value();
  for (const auto& study : rows) {
    auto summary = index->study_summary(study.study_uid);
    ASSERT_TRUE(summary && *summary);
    EXPECT_EQ((*summary)->series_count, 2);
    EXPECT_EQ((*summary)->instance_count, 10);
  }
  expect_stored_as_sent(*node_, files);
}

TEST_P(StoreTest, CompressedObjectsAreStoredAsReceived) {
  std::vector<fs::path> files;
  for (const char* syntax : {"jpeg-lossless", "jpeg-ls", "rle", "deflated"}) {
    auto some = testing::generate_corpus(
        corpus_.path() / syntax,
        {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "2", "--rows", "64",
         "--columns", "64", "--syntax", syntax, "--seed", std::to_string(files.size() + 10)});
    files.insert(files.end(), some.begin(), some.end());
  }
  // dcmsend (DCMTK) proposes each file's own transfer syntax; storescu would offer uncompressed
  // only.
  auto result = testing::run({"dcmsend", "--call", "PACSNODE", "+sd", "+r", "127.0.0.1",
                              std::to_string(node_->dimse_port()), corpus_.path().string()},
                             std::chrono::seconds(120), {"TCP_NODELAY=1"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  expect_stored_as_sent(*node_, files);
}

TEST_P(StoreTest, AnIdenticalResendIsASuccessThatChangesNothing) {
  const auto files = testing::generate_corpus(
      corpus_.path(), {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "3",
                       "--rows", "64", "--columns", "64"});
  ASSERT_EQ(testing::storescu(node_->dimse_port(), {corpus_.path().string()}).exit_code, 0);
  auto attempts = testing::store_each(node_->dimse_port(), files);
  ASSERT_EQ(attempts.size(), 3u);
  for (const auto& a : attempts) EXPECT_EQ(a.status, 0x0000);
  EXPECT_EQ(node_->open_index()->counts()->instances, 3);
  EXPECT_EQ(testing::files_below(node_->data_dir() / "objects").size(), 3u);
}

TEST_P(StoreTest, NonAsciiNamesAreStoredOnEveryBackend) {
  const auto files = testing::generate_corpus(
      corpus_.path() / "in", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "1", "--rows", "64", "--columns", "64"});
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile(files[0].c_str()).good());
  ff.getDataset()->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
  ff.getDataset()->putAndInsertString(DCM_PatientName, "M\xfcller^J\xe9r\xf4me");  // Latin-1
  const auto latin1 = corpus_.path() / "latin1.dcm";
  ASSERT_TRUE(ff.saveFile(latin1.c_str(), EXS_LittleEndianExplicit).good());
  auto attempts = testing::store_each(node_->dimse_port(), {latin1});
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].status, 0x0000) << node_->log();
  expect_stored_as_sent(*node_, {latin1});
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
