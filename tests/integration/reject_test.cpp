// Objects and associations the node must refuse, each with its exact answer, and the node serving
// on.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <functional>
#include <regex>

#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

constexpr const char* kExplicitLittleEndian = "1.2.840.10008.1.2.1";
constexpr const char* kCtImageStorage = "1.2.840.10008.5.1.4.1.1.2";
constexpr const char* kMrImageStorage = "1.2.840.10008.5.1.4.1.1.4";

struct RawReply {
  int exit_code;
  int status;  // -1 when no response arrived
  std::string output;
};

class RejectTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> flags = {}) {
    node_ = std::make_unique<TestNode>(
        TestNode::Options{.db = "sqlite", .extra_flags = std::move(flags)});
    node_->start();
  }
  void SetUp() override {
    files_ = testing::generate_corpus(corpus_.path() / "base",
                                      {"--patients", "1", "--studies", "1", "--series", "1",
                                       "--instances", "4", "--rows", "64", "--columns", "64"});
  }

  // The dataset bytes of files_[0] after an edit, as explicit VR little endian.
  std::string edited(const std::function<void(DcmDataset&)>& edit, int which = 0) {
    DcmFileFormat ff;
    EXPECT_TRUE(ff.loadFile(files_[which].c_str()).good());
    edit(*ff.getDataset());
    const auto path = corpus_.path() / ("edited" + std::to_string(counter_++) + ".dcm");
    EXPECT_TRUE(ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
    return testing::dataset_bytes(path);
  }

  RawReply send_raw(const std::string& dataset, const std::string& sop_class,
                    const std::string& sop_instance) {
    const auto path = corpus_.path() / ("raw" + std::to_string(counter_++) + ".bin");
    testing::write_all(path, dataset);
    auto r =
        testing::run({testing::raw_store_binary(), "--host", "127.0.0.1", "--port",
                      std::to_string(node_->dimse_port()), "--aet", "TESTSCU", "--call", "PACSNODE",
                      "--sop-class", sop_class, "--sop-instance", sop_instance, "--syntax",
                      kExplicitLittleEndian, "--dataset", path.string(), "--timeout", "20"});
    std::smatch m;
    int status = -1;
    if (std::regex_search(r.output, m, std::regex("status=0x([0-9A-F]{4})")))
      status = std::stoi(m[1].str(), nullptr, 16);
    return {r.exit_code, status, r.output};
  }

  // Nothing of a refused object may remain: no file, no temp file, no row.
  void expect_nothing_half_written(std::int64_t instances_before) {
    EXPECT_EQ(node_->open_index()->counts()->instances, instances_before);
    EXPECT_EQ(testing::files_below(node_->data_dir() / "objects").size(),
              static_cast<std::size_t>(instances_before));
    EXPECT_TRUE(testing::files_below(node_->data_dir() / "tmp").empty());
  }

  void expect_still_serving() {
    auto attempts = testing::store_each(node_->dimse_port(), {files_[3]});
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_TRUE(attempts[0].sent);
    EXPECT_EQ(attempts[0].status, 0x0000);
  }

  std::string sop_of(int which) { return testing::identity_of(files_[which]).sop_instance_uid; }

  testing::TempDir corpus_;
  std::vector<fs::path> files_;
  std::unique_ptr<TestNode> node_;
  int counter_ = 0;
};

TEST_F(RejectTest, AValidRawObjectIsStored) {
  start();
  auto reply = send_raw(testing::dataset_bytes(files_[0]), kCtImageStorage, sop_of(0));
  EXPECT_EQ(reply.status, 0x0000) << reply.output;
  EXPECT_EQ(node_->open_index()->counts()->instances, 1);
}

TEST_F(RejectTest, EachInvalidObjectGetsItsStatusAndLeavesNothingBehind) {
  start();
  struct Case {
    const char* name;
    std::string dataset;
    std::string sop_class, sop_instance;
    int status;
    const char* comment;
  };
  const std::vector<Case> cases = {
      {"missing Study Instance UID",
       edited([](DcmDataset& d) { d.findAndDeleteElement(DCM_StudyInstanceUID); }), kCtImageStorage,
       sop_of(0), 0xA900, "missing Study Instance UID"},
      {"missing Series Instance UID",
       edited([](DcmDataset& d) { d.findAndDeleteElement(DCM_SeriesInstanceUID); }),
       kCtImageStorage, sop_of(0), 0xA900, "missing Series Instance UID"},
      {"missing SOP Instance UID",
       edited([](DcmDataset& d) { d.findAndDeleteElement(DCM_SOPInstanceUID); }), kCtImageStorage,
       sop_of(0), 0xA900, "missing SOP Instance UID"},
      {"malformed Study Instance UID",
       edited([](DcmDataset& d) { d.putAndInsertString(DCM_StudyInstanceUID, "1.2.03.4"); }),
       kCtImageStorage, sop_of(0), 0xA900, "malformed Study Instance UID"},
      {"SOP class in command and dataset differ", testing::dataset_bytes(files_[0]),
       kMrImageStorage, sop_of(0), 0xA900, "SOP Class UID in the command"},
      {"SOP instance in command and dataset differ", testing::dataset_bytes(files_[0]),
       kCtImageStorage, sop_of(1), 0xA900, "SOP Instance UID in the command"},
      {"truncated in the pixel data",
       testing::dataset_bytes(files_[1]).substr(0,
                                                testing::dataset_bytes(files_[1]).size() / 2 & ~1u),
       kCtImageStorage, sop_of(1), 0xC000, "cannot parse"},
      {"truncated in the header", testing::dataset_bytes(files_[2]).substr(0, 300), kCtImageStorage,
       sop_of(2), 0xC000, "cannot parse"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto reply = send_raw(c.dataset, c.sop_class, c.sop_instance);
    EXPECT_EQ(reply.exit_code, 0) << reply.output;
    EXPECT_EQ(reply.status, c.status) << reply.output;
    EXPECT_NE(reply.output.find(c.comment), std::string::npos) << reply.output;
    expect_nothing_half_written(0);
  }
  expect_still_serving();
}

TEST_F(RejectTest, HtJ2kIsDeclinedAtNegotiationNotAbortedMidTransfer) {
  start();
  const auto path = corpus_.path() / "htj2k.bin";
  testing::write_all(path, testing::dataset_bytes(files_[0]));
  auto r = testing::run({testing::raw_store_binary(), "--host", "127.0.0.1", "--port",
                         std::to_string(node_->dimse_port()), "--aet", "TESTSCU", "--call",
                         "PACSNODE", "--sop-class", kCtImageStorage, "--sop-instance", sop_of(0),
                         "--syntax", "1.2.840.10008.1.2.4.201", "--dataset", path.string()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("association-failed"), std::string::npos) << r.output;
  expect_still_serving();
}

TEST_F(RejectTest, KeepPolicyKeepsTheFirstObject) {
  start({"--duplicate-policy", "keep"});
  ASSERT_EQ(send_raw(testing::dataset_bytes(files_[0]), kCtImageStorage, sop_of(0)).status, 0);
  const auto original = node_->open_index()->find_instance(sop_of(0)).value().value();
  auto changed =
      edited([](DcmDataset& d) { d.putAndInsertString(DCM_StudyDescription, "changed"); });
  EXPECT_EQ(send_raw(changed, kCtImageStorage, sop_of(0)).status, 0x0000);
  const auto after = node_->open_index()->find_instance(sop_of(0)).value().value();
  EXPECT_EQ(after.relative_path, original.relative_path);
  EXPECT_EQ(testing::dataset_bytes(node_->data_dir() / after.relative_path),
            testing::dataset_bytes(files_[0]));
  expect_nothing_half_written(1);
}

TEST_F(RejectTest, RejectPolicyRefusesADifferentObjectButNotAnIdenticalResend) {
  start({"--duplicate-policy", "reject"});
  ASSERT_EQ(send_raw(testing::dataset_bytes(files_[0]), kCtImageStorage, sop_of(0)).status, 0);
  auto changed =
      edited([](DcmDataset& d) { d.putAndInsertString(DCM_StudyDescription, "changed"); });
  auto reply = send_raw(changed, kCtImageStorage, sop_of(0));
  EXPECT_EQ(reply.status, 0x0111) << reply.output;
  EXPECT_EQ(send_raw(testing::dataset_bytes(files_[0]), kCtImageStorage, sop_of(0)).status, 0);
  expect_nothing_half_written(1);
}

TEST_F(RejectTest, OverwritePolicyReplacesTheObjectAndItsFile) {
  start({"--duplicate-policy", "overwrite"});
  ASSERT_EQ(send_raw(testing::dataset_bytes(files_[0]), kCtImageStorage, sop_of(0)).status, 0);
  auto changed =
      edited([](DcmDataset& d) { d.putAndInsertString(DCM_StudyDescription, "changed"); });
  EXPECT_EQ(send_raw(changed, kCtImageStorage, sop_of(0)).status, 0x0000);
  const auto row = node_->open_index()->find_instance(sop_of(0)).value().value();
  EXPECT_EQ(testing::dataset_bytes(node_->data_dir() / row.relative_path), changed);
  expect_nothing_half_written(1);
}

TEST_F(RejectTest, BytesThatAreNoAssociationAreDroppedAndTheNodeServesOn) {
  start();
  const int port = node_->dimse_port();
  const auto echo_works = [&] {
    return testing::run({"echoscu", "-aec", "PACSNODE", "127.0.0.1", std::to_string(port)},
                        std::chrono::seconds(30), {"TCP_NODELAY=1"})
               .exit_code == 0;
  };
  // PDU header: type, reserved, 32-bit big-endian length (PS3.8 9.3.1).
  const std::string huge_rq("\x01\x00\xFF\xFF\xFF\xF0", 6);
  const std::string data_first("\x04\x00\x00\x00\x00\x10", 6);
  const std::vector<std::pair<const char*, std::string>> hostile = {
      {"garbage", std::string(1024, '\x5A')},
      {"an A-ASSOCIATE-RQ claiming 4 GB", huge_rq + std::string(64, '\0')},
      {"a P-DATA-TF before any association", data_first + std::string(16, '\x01')},
      {"an A-ASSOCIATE-RQ cut after its header", huge_rq.substr(0, 4)},
  };
  for (const auto& [what, bytes] : hostile) {
    const auto started = std::chrono::steady_clock::now();
    const std::string answer = testing::exchange_raw(port, bytes, true);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10))
        << what << ": the connection is closed, not left hanging";
    // Whatever DCMTK answers (nothing, or an A-ASSOCIATE-RJ / A-ABORT PDU), it is no acceptance.
    EXPECT_TRUE(answer.empty() || answer[0] == '\x03' || answer[0] == '\x07') << what;
    ASSERT_TRUE(node_->running()) << what << "\n" << node_->log();
    EXPECT_TRUE(echo_works()) << what;
  }
}

TEST_F(RejectTest, AWrongCalledAeTitleIsRejected) {
  start();
  auto echo = testing::run(
      {"echoscu", "-aec", "NOTTHENODE", "127.0.0.1", std::to_string(node_->dimse_port())});
  EXPECT_NE(echo.exit_code, 0);
  EXPECT_NE(echo.output.find("Called AE Title Not Recognized"), std::string::npos) << echo.output;
  EXPECT_EQ(testing::run(
                {"echoscu", "-aec", "PACSNODE", "127.0.0.1", std::to_string(node_->dimse_port())})
                .exit_code,
            0);
}

TEST_F(RejectTest, TheCallingAeAllowListIsEnforced) {
  start({"--allow-calling-aet", "CT1"});
  const std::string port = std::to_string(node_->dimse_port());
  auto other = testing::run({"echoscu", "-aet", "OTHER", "-aec", "PACSNODE", "127.0.0.1", port});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.output.find("Calling AE Title Not Recognized"), std::string::npos)
      << other.output;
  EXPECT_EQ(
      testing::run({"echoscu", "-aet", "CT1", "-aec", "PACSNODE", "127.0.0.1", port}).exit_code, 0);
}

TEST_F(RejectTest, UnknownSopClassesAreAcceptedOnlyWhereConfigured) {
  const std::string unknown_class = "1.2.826.0.1.3680043.10.1457.999.1";
  auto dataset =
      edited([&](DcmDataset& d) { d.putAndInsertString(DCM_SOPClassUID, unknown_class.c_str()); });
  start();
  auto refused = send_raw(dataset, unknown_class, sop_of(0));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;  // no presentation context accepted
  node_->stop();
  start({"--accept-unknown-sop-classes"});
  auto accepted = send_raw(dataset, unknown_class, sop_of(0));
  EXPECT_EQ(accepted.status, 0x0000) << accepted.output;
  EXPECT_EQ(node_->open_index()->find_instance(sop_of(0)).value().value().sop_class_uid,
            unknown_class);
}

}  // namespace
}  // namespace pacs
