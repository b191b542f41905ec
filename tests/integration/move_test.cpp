// C-MOVE with DCMTK movescu (and DcmSCU for counts and cancel) into a storescp destination.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scu.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <thread>

#include "tests/support/dicom_files.h"
#include "tests/support/process.h"
#include "tests/support/storescp.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

using Receiver = testing::Storescp;

struct MoveOutcome {
  std::string final_status;
  std::string output;
};

struct ScuOutcome {
  Uint16 final_status = 0;
  int completed = 0, failed = 0, pending_responses = 0;
  std::string failed_list;
};

// DCMTK's DcmSCU as a C-MOVE requester that can cancel after N pending responses.
class MoveScu : public DcmSCU {
 public:
  explicit MoveScu(int cancel_after) : cancel_after_(cancel_after) {}
  int pending = 0;

 protected:
  OFCondition handleMOVEResponse(const T_ASC_PresentationContextID id, RetrieveResponse* response,
                                 OFBool& wait) override {
    OFCondition c = DcmSCU::handleMOVEResponse(id, response, wait);
    if (response->m_status == STATUS_Pending && ++pending == cancel_after_) sendCANCELRequest(id);
    return c;
  }

 private:
  int cancel_after_;
};

// DcmSCU as a C-GET requester (storage SCP role for CT) that cancels after N pending responses.
class GetScu : public DcmSCU {
 public:
  explicit GetScu(int cancel_after) : cancel_after_(cancel_after) {}
  int pending = 0;
  Uint16 final_status = 0;

 protected:
  OFCondition handleCGETResponse(const T_ASC_PresentationContextID id, RetrieveResponse* response,
                                 OFBool& go_on) override {
    OFCondition c = DcmSCU::handleCGETResponse(id, response, go_on);
    if (response->m_status == STATUS_Pending && ++pending == cancel_after_) sendCANCELRequest(id);
    if (response->m_status != STATUS_Pending) final_status = response->m_status;
    return c;
  }

 private:
  int cancel_after_;
};

class MoveTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string url;
    PACS_REQUIRE_BACKEND(GetParam(), url);
    node_ = std::make_unique<TestNode>(TestNode::Options{
        .db = url,
        .extra_flags = {"--peer", "DEST=127.0.0.1:" + std::to_string(receiver_.port()), "--peer",
                        "ANY=127.0.0.1:" + std::to_string(any_syntax_.port()), "--peer",
                        "DOWN=127.0.0.1:" + std::to_string(testing::free_port())}});
    node_->start();
    files_ = testing::generate_corpus(
        corpus_.path(), {"--patients", "2", "--studies", "2", "--series", "2", "--instances", "3",
                         "--rows", "64", "--columns", "64", "--modality", "mixed"});
    ASSERT_EQ(testing::storescu(node_->dimse_port(), {corpus_.path().string()}).exit_code, 0);
    for (const auto& f : files_) by_sop_[testing::identity_of(f).sop_instance_uid] = f;
  }

  MoveOutcome movescu(const std::string& model, const std::string& destination,
                      const std::vector<std::string>& keys) {
    auto r =
        testing::run_dcmtk_tool({"movescu", "-v", model, "-aec", "PACSNODE", "-aem", destination},
                                keys, node_->dimse_port());
    std::smatch m;
    std::string status;
    if (std::regex_search(r.output, m, std::regex("Received Final Move Response \\(([^)]*)\\)")))
      status = m[1].str();
    return {status, r.output};
  }

  ScuOutcome move_with_scu(const std::string& destination, const std::string& level,
                           const DcmTagKey& key, const std::string& value, int cancel_after = 0) {
    MoveScu scu(cancel_after);
    scu.setAETitle("MOVESCU");
    scu.setPeerAETitle("PACSNODE");
    scu.setPeerHostName("127.0.0.1");
    scu.setPeerPort(static_cast<Uint16>(node_->dimse_port()));
    scu.addPresentationContext(UID_MOVEStudyRootQueryRetrieveInformationModel,
                               {UID_LittleEndianExplicitTransferSyntax});
    ScuOutcome out;
    if (scu.initNetwork().bad() || scu.negotiateAssociation().bad()) return out;
    DcmDataset identifier;
    identifier.putAndInsertString(DCM_QueryRetrieveLevel, level.c_str());
    identifier.putAndInsertString(key, value.c_str());
    OFList<RetrieveResponse*> responses;
    const auto id =
        scu.findPresentationContextID(UID_MOVEStudyRootQueryRetrieveInformationModel, "");
    scu.sendMOVERequest(id, destination.c_str(), &identifier, &responses);
    if (!responses.empty()) {
      RetrieveResponse* last = responses.back();
      out.final_status = last->m_status;
      out.completed = last->m_numberOfCompletedSubops;
      out.failed = last->m_numberOfFailedSubops;
      OFString list;
      if (last->m_dataset)
        last->m_dataset->findAndGetOFStringArray(DCM_FailedSOPInstanceUIDList, list);
      out.failed_list = list.c_str();
    }
    out.pending_responses = scu.pending;
    for (auto* r : responses) delete r;
    scu.releaseAssociation();
    return out;
  }

  // Every file at the destination is byte-identical to the one first sent; returns their UIDs.
  std::set<std::string> received_exactly() {
    std::set<std::string> sops;
    for (const auto& f : receiver_.files()) {
      const auto sop = testing::identity_of(f).sop_instance_uid;
      EXPECT_TRUE(by_sop_.count(sop)) << sop;
      if (!by_sop_.count(sop)) continue;
      EXPECT_TRUE(testing::dataset_bytes(f) == testing::dataset_bytes(by_sop_[sop])) << sop;
      sops.insert(sop);
    }
    return sops;
  }

  std::set<std::string> sops_where(const DcmTagKey& tag, const std::string& value) {
    std::set<std::string> out;
    for (const auto& f : files_) {
      DcmFileFormat ff;
      ff.loadFile(f.c_str(), EXS_Unknown, EGL_noChange, 1024);
      OFString v;
      ff.getDataset()->findAndGetOFString(tag, v);
      if (value == v.c_str()) out.insert(testing::identity_of(f).sop_instance_uid);
    }
    return out;
  }

  Receiver receiver_;
  Receiver any_syntax_{{"+xa"}};
  testing::TempDir corpus_;
  std::vector<fs::path> files_;
  std::map<std::string, fs::path> by_sop_;
  std::unique_ptr<TestNode> node_;
  int gets_ = 0;
};

TEST_P(MoveTest, EveryLevelArrivesByteIdentical) {
  const std::string patient = testing::value_of(files_[0], DCM_PatientID);
  auto by_patient = movescu("-P", "DEST", {"QueryRetrieveLevel=PATIENT", "PatientID=" + patient});
  EXPECT_EQ(by_patient.final_status, "Success") << by_patient.output;
  EXPECT_EQ(received_exactly(), sops_where(DCM_PatientID, patient));

  const std::string study = testing::value_of(files_.back(), DCM_StudyInstanceUID);
  auto by_study = movescu("-S", "DEST", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study});
  EXPECT_EQ(by_study.final_status, "Success") << by_study.output;
  auto expected = sops_where(DCM_PatientID, patient);
  auto in_study = sops_where(DCM_StudyInstanceUID, study);
  expected.insert(in_study.begin(), in_study.end());
  EXPECT_EQ(received_exactly(), expected);

  const std::string series = testing::value_of(files_[7], DCM_SeriesInstanceUID);
  auto by_series =
      movescu("-S", "DEST",
              {"QueryRetrieveLevel=SERIES",
               "StudyInstanceUID=" + testing::value_of(files_[7], DCM_StudyInstanceUID),
               "SeriesInstanceUID=" + series});
  EXPECT_EQ(by_series.final_status, "Success") << by_series.output;
  auto in_series = sops_where(DCM_SeriesInstanceUID, series);
  expected.insert(in_series.begin(), in_series.end());
  EXPECT_EQ(received_exactly(), expected);

  // Instance level with a list of UIDs.
  const auto a = testing::identity_of(files_[13]).sop_instance_uid;
  const auto b = testing::identity_of(files_[20]).sop_instance_uid;
  auto by_instances =
      movescu("-S", "DEST",
              {"QueryRetrieveLevel=IMAGE",
               "StudyInstanceUID=" + testing::value_of(files_[13], DCM_StudyInstanceUID) + "\\" +
                   testing::value_of(files_[20], DCM_StudyInstanceUID),
               "SOPInstanceUID=" + a + "\\" + b});
  EXPECT_EQ(by_instances.final_status, "Success") << by_instances.output;
  expected.insert(a);
  expected.insert(b);
  EXPECT_EQ(received_exactly(), expected);
}

// Compressed instances go out as stored where the destination accepts their syntax, and
// decompressed (lossless) where it accepts only uncompressed ones.
TEST_P(MoveTest, CompressedInstancesArriveAsStoredOrDecompressed) {
  struct Kind {
    const char* corpus_syntax;
    const char* decompressor;  // the DCMTK tool that gives the expected uncompressed object
  };
  for (const Kind kind :
       {Kind{"jpeg-lossless", "dcmdjpeg"}, Kind{"rle", "dcmdrle"}, Kind{"jpeg-ls", "dcmdjpls"}}) {
    SCOPED_TRACE(kind.corpus_syntax);
    testing::TempDir dir;
    const auto files = testing::generate_corpus(
        dir.path() / "in", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                            "2", "--rows", "64", "--columns", "64", "--syntax", kind.corpus_syntax,
                            "--seed", std::to_string(gets_++ + 50)});
    auto sent = testing::run({"dcmsend", "--call", "PACSNODE", "+sd", "+r", "127.0.0.1",
                              std::to_string(node_->dimse_port()), (dir.path() / "in").string()},
                             std::chrono::seconds(60), {"TCP_NODELAY=1"});
    ASSERT_EQ(sent.exit_code, 0) << sent.output;
    std::map<std::string, fs::path> originals;
    for (const auto& f : files) originals[testing::identity_of(f).sop_instance_uid] = f;
    const std::string study = testing::value_of(files[0], DCM_StudyInstanceUID);
    const auto before_any = any_syntax_.files().size();
    const auto before_dest = receiver_.files().size();

    auto as_stored = move_with_scu("ANY", "STUDY", DCM_StudyInstanceUID, study);
    EXPECT_EQ(as_stored.final_status, STATUS_Success);
    EXPECT_EQ(as_stored.completed, 2);
    auto decompressed = move_with_scu("DEST", "STUDY", DCM_StudyInstanceUID, study);
    EXPECT_EQ(decompressed.final_status, STATUS_Success) << node_->log();
    EXPECT_EQ(decompressed.completed, 2);
    ASSERT_EQ(any_syntax_.files().size(), before_any + 2);
    ASSERT_EQ(receiver_.files().size(), before_dest + 2);

    for (const auto& f : any_syntax_.files()) {
      const auto id = testing::identity_of(f);
      if (!originals.count(id.sop_instance_uid)) continue;
      EXPECT_EQ(id.transfer_syntax,
                testing::identity_of(originals[id.sop_instance_uid]).transfer_syntax);
      EXPECT_TRUE(testing::dataset_bytes(f) ==
                  testing::dataset_bytes(originals[id.sop_instance_uid]));
    }
    for (const auto& f : receiver_.files()) {
      const auto id = testing::identity_of(f);
      if (!originals.count(id.sop_instance_uid)) continue;
      EXPECT_EQ(id.transfer_syntax, "1.2.840.10008.1.2.1");
      const auto expected = dir.path() / (id.sop_instance_uid + ".expected.dcm");
      auto decoded = testing::run(
          {kind.decompressor, "+te", originals[id.sop_instance_uid].string(), expected.string()},
          std::chrono::seconds(30), {});
      ASSERT_EQ(decoded.exit_code, 0) << decoded.output;
      EXPECT_TRUE(testing::dataset_bytes(f) == testing::dataset_bytes(expected))
          << id.sop_instance_uid;
    }
  }
}

TEST_P(MoveTest, CountsArriveInPendingAndFinalResponses) {
  const std::string study = testing::value_of(files_[0], DCM_StudyInstanceUID);
  auto r = move_with_scu("DEST", "STUDY", DCM_StudyInstanceUID, study);
  EXPECT_EQ(r.final_status, STATUS_Success);
  EXPECT_EQ(r.completed, 6);
  EXPECT_EQ(r.failed, 0);
  // The first sub-operation is reported at once; later ones at most every 100 ms.
  EXPECT_GE(r.pending_responses, 1);
  EXPECT_LE(r.pending_responses, 5);
}

TEST_P(MoveTest, AnUnknownDestinationIsRefusedWithoutSubOperations) {
  auto r = movescu("-S", "NOWHERE",
                   {"QueryRetrieveLevel=STUDY",
                    "StudyInstanceUID=" + testing::value_of(files_[0], DCM_StudyInstanceUID)});
  EXPECT_EQ(r.final_status, "Refused: MoveDestinationUnknown") << r.output;
  EXPECT_TRUE(receiver_.files().empty());
}

TEST_P(MoveTest, AnUnreachableDestinationFailsEverySubOperationAndTheNodeServesOn) {
  const std::string study = testing::value_of(files_[0], DCM_StudyInstanceUID);
  auto r = move_with_scu("DOWN", "STUDY", DCM_StudyInstanceUID, study);
  EXPECT_EQ(r.final_status, STATUS_MOVE_Refused_OutOfResourcesSubOperations);
  EXPECT_EQ(r.failed, 6);
  EXPECT_EQ(r.completed, 0);
  std::set<std::string> listed;
  std::string current;
  for (char ch : r.failed_list + "\\") {
    if (ch != '\\') {
      current.push_back(ch);
      continue;
    }
    listed.insert(current);
    current.clear();
  }
  EXPECT_EQ(listed, sops_where(DCM_StudyInstanceUID, study));
  auto again = move_with_scu("DEST", "STUDY", DCM_StudyInstanceUID, study);
  EXPECT_EQ(again.final_status, STATUS_Success);
  EXPECT_EQ(again.completed, 6);
}

TEST_P(MoveTest, CancelStopsTheSubOperations) {
  auto r = move_with_scu("DEST", "STUDY", DCM_PatientID, "*", 1);  // all 4 studies: 24 instances
  EXPECT_EQ(r.final_status, STATUS_MOVE_Cancel);
  EXPECT_LT(r.completed, 24);
  EXPECT_LT(receiver_.files().size(), 24u);
}

TEST_P(MoveTest, ABadIdentifierIsRefused) {
  auto r = movescu("-S", "DEST", {"QueryRetrieveLevel=PATIENT", "PatientID=X"});
  EXPECT_EQ(r.final_status, "Error: DataSetDoesNotMatchSOPClass") << r.output;
}

// C-GET: the same retrieve, the instances coming back on the requester's own association.
TEST_P(MoveTest, GetscuRetrievesEveryLevelByteIdentical) {
  auto getscu = [&](const std::string& model, const std::vector<std::string>& keys) {
    const auto out = corpus_.path() / ("get" + std::to_string(gets_++));
    fs::create_directories(out);
    auto r =
        testing::run_dcmtk_tool({"getscu", "-v", model, "-aec", "PACSNODE", "-od", out.string()},
                                keys, node_->dimse_port());
    EXPECT_NE(r.output.find("Received C-GET Response (Success)"), std::string::npos) << r.output;
    std::set<std::string> sops;
    for (const auto& f : testing::files_below(out)) {
      const auto sop = testing::identity_of(f).sop_instance_uid;
      EXPECT_TRUE(testing::dataset_bytes(f) == testing::dataset_bytes(by_sop_.at(sop))) << sop;
      sops.insert(sop);
    }
    return sops;
  };
  const std::string patient = testing::value_of(files_[0], DCM_PatientID);
  EXPECT_EQ(getscu("-P", {"QueryRetrieveLevel=PATIENT", "PatientID=" + patient}),
            sops_where(DCM_PatientID, patient));
  const std::string study = testing::value_of(files_.back(), DCM_StudyInstanceUID);
  EXPECT_EQ(getscu("-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study}),
            sops_where(DCM_StudyInstanceUID, study));
  const std::string series = testing::value_of(files_[7], DCM_SeriesInstanceUID);
  EXPECT_EQ(getscu("-S", {"QueryRetrieveLevel=SERIES", "SeriesInstanceUID=" + series}),
            sops_where(DCM_SeriesInstanceUID, series));
  const auto a = testing::identity_of(files_[13]).sop_instance_uid;
  EXPECT_EQ(getscu("-S", {"QueryRetrieveLevel=IMAGE", "SOPInstanceUID=" + a}),
            std::set<std::string>{a});
  // The association that served the C-GETs still stores.
  EXPECT_EQ(testing::storescu(node_->dimse_port(), {files_[0].string()}).exit_code, 0);
}

TEST_P(MoveTest, CancelStopsACGet) {
  GetScu scu(1);
  scu.setAETitle("GETSCU");
  scu.setPeerAETitle("PACSNODE");
  scu.setPeerHostName("127.0.0.1");
  scu.setPeerPort(static_cast<Uint16>(node_->dimse_port()));
  scu.setStorageMode(DCMSCU_STORAGE_IGNORE);
  scu.addPresentationContext(UID_GETStudyRootQueryRetrieveInformationModel,
                             {UID_LittleEndianExplicitTransferSyntax});
  for (const char* sop_class :
       {UID_CTImageStorage, UID_MRImageStorage, UID_ComputedRadiographyImageStorage})
    scu.addPresentationContext(sop_class, {UID_LittleEndianExplicitTransferSyntax},
                               ASC_SC_ROLE_SCP);
  ASSERT_TRUE(scu.initNetwork().good());
  ASSERT_TRUE(scu.negotiateAssociation().good());
  DcmDataset identifier;
  identifier.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  identifier.putAndInsertString(DCM_PatientID, "*");  // every study: 24 instances
  OFList<RetrieveResponse*> responses;
  scu.sendCGETRequest(
      scu.findPresentationContextID(UID_GETStudyRootQueryRetrieveInformationModel, ""), &identifier,
      &responses);
  for (auto* r : responses) delete r;
  scu.releaseAssociation();
  EXPECT_EQ(scu.final_status, STATUS_GET_Cancel);
  EXPECT_LT(scu.pending, 24);
  EXPECT_NE(node_->log().find("(cancelled)"), std::string::npos);
}

TEST_P(MoveTest, GetWithAnUnknownLevelIsRefused) {
  auto r = testing::run({"getscu", "-v", "-S", "-aec", "PACSNODE", "-od", corpus_.path().string(),
                         "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=X", "127.0.0.1",
                         std::to_string(node_->dimse_port())},
                        std::chrono::seconds(60), {"TCP_NODELAY=1"});
  EXPECT_NE(r.output.find("Error: DataSetDoesNotMatchSOPClass"), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Backends, MoveTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
