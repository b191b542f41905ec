// Storage Commitment Push Model SCP (PS3.4 J.3) against the real node: what is stored intact is
// committed, everything else fails with its reason; reports on the requester's association or on
// a new one to its configured AE; malformed N-ACTIONs refused with their status.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/support/commitment_scu.h"
#include "tests/support/dicom_files.h"
#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::CommitmentReportListener;
using testing::CommitmentReportSeen;
using testing::CommitmentScu;
using testing::SopReference;
using testing::TestNode;

constexpr const char* kUnknownSop = "1.2.826.0.1.3680043.2.1143.999.1";
constexpr const char* kTransaction = "1.2.826.0.1.3680043.2.1143.777.1";

class CommitmentTest : public ::testing::Test {
 protected:
  // A node (with extra flags) holding a small synthetic study, stored with storescu.
  void start(std::vector<std::string> flags = {}) {
    node_ = std::make_unique<TestNode>(TestNode::Options{.extra_flags = std::move(flags)});
    node_->start();
    files_ = testing::generate_corpus(
        corpus_.path(), {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "4",
                         "--rows", "16", "--columns", "16"});
    ASSERT_EQ(files_.size(), 4u);
    ASSERT_EQ(testing::storescu(node_->dimse_port(), {corpus_.path().string()}).exit_code, 0)
        << node_->log();
    for (const auto& f : files_) {
      const auto id = testing::identity_of(f);
      stored_.push_back({id.sop_class_uid, id.sop_instance_uid});
    }
  }

  // Flips a byte in the middle of an instance's stored file: same size, other checksum.
  void corrupt(const std::string& sop_instance_uid) {
    auto row = node_->open_index()->find_instance(sop_instance_uid);
    ASSERT_TRUE(row && *row);
    const fs::path file = node_->data_dir() / (*row)->relative_path;
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f);
    f.seekg(static_cast<std::streamoff>((*row)->size_bytes / 2));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>((*row)->size_bytes / 2));
    f.put(static_cast<char>(c ^ 0x5a));
  }

  std::string audit_log_holding(std::string_view text) const {
    return testing::read_all_once_it_holds(node_->data_dir() / "audit.log", text);
  }

  testing::TempDir corpus_;
  std::unique_ptr<TestNode> node_;
  std::vector<fs::path> files_;
  std::vector<SopReference> stored_;
};

// The acceptance picture: intact instances committed (with our AE as Retrieve AE Title), an
// unknown UID 0112, a known one under another class 0119, a file changed on disk 0110.
TEST_F(CommitmentTest, ReportOnTheSameAssociationCommitsWhatIsStoredIntactAndNamesEachFailure) {
  start();
  corrupt(stored_[3].sop_instance_uid);
  std::vector<SopReference> asked = stored_;
  asked.push_back({stored_[0].sop_class_uid, kUnknownSop});
  asked.push_back({"1.2.840.10008.5.1.4.1.1.104.1", stored_[1].sop_instance_uid});
  DcmDataset information = testing::commitment_request(kTransaction, asked);
  CommitmentScu scu(node_->dimse_port());
  ASSERT_EQ(scu.request(&information), 0) << node_->log();
  const auto report = scu.await_report();
  ASSERT_TRUE(report) << node_->log();
  EXPECT_EQ(report->event_type, 2);
  EXPECT_EQ(report->transaction_uid, kTransaction);
  const std::map<std::string, std::string> committed = {{stored_[0].sop_instance_uid, "PACSNODE"},
                                                        {stored_[1].sop_instance_uid, "PACSNODE"},
                                                        {stored_[2].sop_instance_uid, "PACSNODE"}};
  EXPECT_EQ(report->committed, committed);
  const std::map<std::string, std::uint16_t> failed = {{stored_[3].sop_instance_uid, 0x0110},
                                                       {kUnknownSop, 0x0112},
                                                       {stored_[1].sop_instance_uid, 0x0119}};
  EXPECT_EQ(report->failed, failed);
  // The changed file is named in the log by its UID.
  EXPECT_NE(node_->log().find(stored_[3].sop_instance_uid + " not committed"), std::string::npos)
      << node_->log();
  // The association still serves: a second, clean transaction commits everything.
  DcmDataset again =
      testing::commitment_request(kTransaction + std::string("2"), {stored_[0], stored_[2]});
  ASSERT_EQ(scu.request(&again), 0);
  const auto second = scu.await_report();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->event_type, 1);
  EXPECT_EQ(second->committed.size(), 2u);
  EXPECT_TRUE(second->failed.empty());
  // Each commitment is audited as DICOM Instances Accessed.
  const std::string audit = audit_log_holding("110103");
  EXPECT_NE(audit.find("110103"), std::string::npos) << audit;
}

// Rows from before checksums were recorded cannot be verified, so they are not committed.
TEST_F(CommitmentTest, AnInstanceWithoutARecordedChecksumIsNotCommitted) {
  start();
  {
    auto index = node_->open_index();
    auto row = index->find_instance(stored_[0].sop_instance_uid);
    ASSERT_TRUE(row && *row);
    ASSERT_TRUE(
        index->set_instance_checksum(stored_[0].sop_instance_uid, (*row)->relative_path, ""));
  }
  DcmDataset information = testing::commitment_request(kTransaction, {stored_[0], stored_[1]});
  CommitmentScu scu(node_->dimse_port());
  ASSERT_EQ(scu.request(&information), 0);
  const auto report = scu.await_report();
  ASSERT_TRUE(report) << node_->log();
  EXPECT_EQ(report->event_type, 2);
  EXPECT_EQ(report->committed.count(stored_[1].sop_instance_uid), 1u);
  EXPECT_EQ(report->failed,
            (std::map<std::string, std::uint16_t>{{stored_[0].sop_instance_uid, 0x0110}}));
}

// --commitment-report new: the node calls the requester's configured AE, proposing the SCP role.
TEST_F(CommitmentTest, ReportGoesOnANewAssociationToTheConfiguredAe) {
  CommitmentReportListener listener;
  start({"--commitment-report", "new", "--peer",
         "MODALITY=127.0.0.1:" + std::to_string(listener.port())});
  DcmDataset information = testing::commitment_request(kTransaction, stored_);
  {
    CommitmentScu scu(node_->dimse_port());
    ASSERT_EQ(scu.request(&information), 0);
    scu.release();
  }
  const auto report = listener.await(30);
  ASSERT_TRUE(report) << node_->log();
  EXPECT_EQ(report->calling_aet, "PACSNODE");
  EXPECT_EQ(report->proposed_role, ASC_SC_ROLE_SCP);
  EXPECT_EQ(report->event_type, 1);
  EXPECT_EQ(report->transaction_uid, kTransaction);
  EXPECT_EQ(report->committed.size(), stored_.size());
  EXPECT_TRUE(report->failed.empty());
}

// The default mode: a requester that releases right after the N-ACTION-RSP gets its report on a
// new association.
TEST_F(CommitmentTest, ARequesterThatReleasedGetsTheReportOnANewAssociation) {
  CommitmentReportListener listener;
  start({"--peer", "MODALITY=127.0.0.1:" + std::to_string(listener.port())});
  DcmDataset information = testing::commitment_request(
      kTransaction, {stored_[0], {stored_[0].sop_class_uid, kUnknownSop}});
  {
    CommitmentScu scu(node_->dimse_port());
    ASSERT_EQ(scu.request(&information), 0);
    scu.release();
  }
  const auto report = listener.await(30);
  ASSERT_TRUE(report) << node_->log();
  EXPECT_EQ(report->event_type, 2);
  EXPECT_EQ(report->committed.count(stored_[0].sop_instance_uid), 1u);
  EXPECT_EQ(report->failed, (std::map<std::string, std::uint16_t>{{kUnknownSop, 0x0112}}));
}

// A requester not listening yet: the report is retried with backoff until it is.
TEST_F(CommitmentTest, AReportIsRetriedUntilTheRequesterListens) {
  const int port = testing::free_port();
  start({"--commitment-report", "new", "--peer", "MODALITY=127.0.0.1:" + std::to_string(port)});
  DcmDataset information = testing::commitment_request(kTransaction, {stored_[2]});
  {
    CommitmentScu scu(node_->dimse_port());
    ASSERT_EQ(scu.request(&information), 0);
  }
  // Nothing listens for a while: the first attempt is refused.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // The port the node was given (free a moment ago; nothing else of this test takes it).
  CommitmentReportListener listener(port);
  const auto report = listener.await(30);
  ASSERT_TRUE(report) << node_->log();
  EXPECT_EQ(report->committed.count(stored_[2].sop_instance_uid), 1u);
  // At least one attempt failed before this one.
  EXPECT_NE(node_->log().find("retry in"), std::string::npos) << node_->log();
}

// Each malformed N-ACTION gets its status, and the association and node go on serving.
TEST_F(CommitmentTest, MalformedNActionsGetTheirFailureStatusAndTheNodeKeepsServing) {
  start();
  CommitmentScu scu(node_->dimse_port());
  DcmDataset good = testing::commitment_request(kTransaction, {stored_[0]});
  using Action = CommitmentScu::Action;
  EXPECT_EQ(scu.request(&good, Action{.sop_instance = "1.2.3.4"}), 0x0112);
  EXPECT_EQ(scu.request(&good, Action{.sop_instance = "1.2.03.x"}), 0x0117);
  EXPECT_EQ(scu.request(&good, Action{.sop_class = "1.2.840.10008.3.1.2.3.3"}), 0x0118);
  EXPECT_EQ(scu.request(&good, Action{.action_type = 2}), 0x0123);
  EXPECT_EQ(scu.request(nullptr), 0x0115);
  DcmDataset no_transaction = testing::commitment_request(kTransaction, {stored_[0]});
  no_transaction.findAndDeleteElement(DCM_TransactionUID);
  EXPECT_EQ(scu.request(&no_transaction), 0x0115);
  DcmDataset no_items = testing::commitment_request(kTransaction, {});
  EXPECT_EQ(scu.request(&no_items), 0x0115);
  DcmDataset empty_sequence = testing::commitment_request(kTransaction, {});
  empty_sequence.insertEmptyElement(DCM_ReferencedSOPSequence);
  EXPECT_EQ(scu.request(&empty_sequence), 0x0115);
  DcmDataset item_without_uid = testing::commitment_request(kTransaction, {stored_[0]});
  DcmItem* item = nullptr;
  ASSERT_TRUE(item_without_uid.findAndGetSequenceItem(DCM_ReferencedSOPSequence, item).good());
  item->findAndDeleteElement(DCM_ReferencedSOPInstanceUID);
  EXPECT_EQ(scu.request(&item_without_uid), 0x0115);
  // Refused requests got no report; a good one on the same association still works.
  ASSERT_EQ(scu.request(&good), 0);
  const auto report = scu.await_report();
  ASSERT_TRUE(report) << node_->log();
  EXPECT_EQ(report->event_type, 1);
  EXPECT_EQ(report->committed.count(stored_[0].sop_instance_uid), 1u);
  EXPECT_NE(node_->log().find("refused with status 0x123"), std::string::npos) << node_->log();
  EXPECT_TRUE(node_->running());
}

}  // namespace
}  // namespace pacs
