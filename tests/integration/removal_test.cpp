// Removal of objects from the archive: DELETE /api/admin/... (admin access) and `pacsnode delete`
// at each level. What is removed leaves C-FIND, QIDO-RS, C-GET and WADO-RS at once; its files go;
// every count above it stays right (fsck agrees); each removal is in the audit trail.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>
#include <thread>

#include "security/secrets.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;
using testing::TestNode;

// One stored file and the UIDs that place it.
struct StoredFile {
  fs::path file;
  std::string patient_id, study_uid, series_uid, sop_uid;
};

std::vector<StoredFile> describe(const std::vector<fs::path>& files) {
  std::vector<StoredFile> out;
  for (const auto& f : files)
    out.push_back(
        {f, testing::value_of(f, DCM_PatientID), testing::value_of(f, DCM_StudyInstanceUID),
         testing::value_of(f, DCM_SeriesInstanceUID), testing::identity_of(f).sop_instance_uid});
  return out;
}

// An IHE IOCM rejection note: a Key Object Selection document titled with a rejection code,
// whose evidence names the rejected instances (all of one study).
void write_rejection_note(const fs::path& out, const std::vector<const StoredFile*>& rejected,
                          const char* code, const char* meaning) {
  DcmFileFormat ff;
  DcmDataset& ds = *ff.getDataset();
  char uid[100];
  ds.putAndInsertString(DCM_SOPClassUID, UID_KeyObjectSelectionDocumentStorage);
  ds.putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid));
  ds.putAndInsertString(DCM_StudyInstanceUID, rejected[0]->study_uid.c_str());
  ds.putAndInsertString(DCM_SeriesInstanceUID, dcmGenerateUniqueIdentifier(uid));
  ds.putAndInsertString(DCM_Modality, "KO");
  ds.putAndInsertString(DCM_PatientID, rejected[0]->patient_id.c_str());
  ds.putAndInsertString(DCM_ValueType, "CONTAINER");
  DcmItem* title = nullptr;
  ds.findOrCreateSequenceItem(DCM_ConceptNameCodeSequence, title, 0);
  title->putAndInsertString(DCM_CodeValue, code);
  title->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
  title->putAndInsertString(DCM_CodeMeaning, meaning);
  DcmItem* study = nullptr;
  ds.findOrCreateSequenceItem(DCM_CurrentRequestedProcedureEvidenceSequence, study, 0);
  study->putAndInsertString(DCM_StudyInstanceUID, rejected[0]->study_uid.c_str());
  for (const StoredFile* instance : rejected) {
    DcmItem* series = nullptr;
    study->findOrCreateSequenceItem(DCM_ReferencedSeriesSequence, series, -2);
    series->putAndInsertString(DCM_SeriesInstanceUID, instance->series_uid.c_str());
    DcmItem* sop = nullptr;
    series->findOrCreateSequenceItem(DCM_ReferencedSOPSequence, sop, -2);
    sop->putAndInsertString(DCM_ReferencedSOPClassUID,
                            testing::identity_of(instance->file).sop_class_uid.c_str());
    sop->putAndInsertString(DCM_ReferencedSOPInstanceUID, instance->sop_uid.c_str());
  }
  ASSERT_TRUE(ff.saveFile(out.c_str(), EXS_LittleEndianExplicit).good());
}

class RemovalTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    PACS_REQUIRE_BACKEND(GetParam(), url_);
    node_ = std::make_unique<TestNode>(TestNode::Options{
        .db = url_,
        .extra_flags = {"--api-token", "ops:admin:" + security::hash_token("ops-token"),
                        "--api-token", "robot:write:" + security::hash_token("robot-token"),
                        "--rejection-grace-seconds", "3"}});
    node_->start();
    // 2 patients x 2 studies x 2 series x 3 instances.
    stored_ = describe(testing::generate_corpus(
        dir_.path() / "corpus", {"--patients", "2", "--studies", "2", "--series", "2",
                                 "--instances", "3", "--rows", "16", "--columns", "16"}));
    ASSERT_EQ(stored_.size(), 24u);
    ASSERT_EQ(testing::storescu(node_->dimse_port(), {(dir_.path() / "corpus").string()}).exit_code,
              0)
        << node_->log();
  }

  testing::HttpResponse remove(const std::string& path, const std::string& token = "ops-token") {
    return testing::http_request(node_->http_port(), "DELETE", "/api/admin" + path,
                                 {"Authorization: Bearer " + token});
  }
  int qido_count(const std::string& path) {
    const auto r = testing::http_request(node_->http_port(), "GET", "/dicom-web" + path,
                                         {"Authorization: Bearer ops-token"});
    if (r.status == 204) return 0;
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? static_cast<int>(testing::parse_json(r.body).as_array().size()) : -1;
  }
  // A study-level QIDO attribute of the study (NumberOfStudyRelatedInstances etc.), -1 if absent.
  int study_number(const std::string& study, const std::string& tag) {
    const auto r = testing::http_request(node_->http_port(), "GET",
                                         "/dicom-web/studies?StudyInstanceUID=" + study,
                                         {"Authorization: Bearer ops-token"});
    if (r.status != 200) return -1;
    const json::value found = testing::parse_json(r.body);
    if (found.as_array().empty()) return -1;
    const auto* value = found.as_array()[0].as_object().at(tag).as_object().if_contains("Value");
    return value ? static_cast<int>(value->as_array()[0].to_number<double>()) : -1;
  }
  // Files of the instances C-GET hands back for a study.
  std::size_t retrieved(const std::string& study) {
    const fs::path out = dir_.path() / ("get" + std::to_string(++gets_));
    fs::create_directories(out);
    testing::run_dcmtk_tool({"getscu", "-S", "-aec", "PACSNODE", "-od", out.string()},
                            {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study},
                            node_->dimse_port());
    return testing::files_below(out).size();
  }
  std::set<std::string> files_on_disk() {
    std::set<std::string> out;
    for (const auto& f : testing::files_below(node_->data_dir() / "objects")) out.insert(f);
    return out;
  }
  std::string path_of(const std::string& sop) {
    auto row = node_->open_index()->find_instance(sop);
    return row && *row ? (node_->data_dir() / (*row)->relative_path).string() : "";
  }

  std::string url_;
  testing::TempDir dir_;
  std::unique_ptr<TestNode> node_;
  std::vector<StoredFile> stored_;
  int gets_ = 0;
};

TEST_P(RemovalTest, EachLevelLeavesQueriesRetrievesAndDiskWithCountsRight) {
  // Pick the entities: patient A's first study (its first series, and one instance of the
  // second), patient A's second study whole, then patient B whole.
  std::map<std::string, std::set<std::string>> studies_of;
  for (const auto& s : stored_) studies_of[s.patient_id].insert(s.study_uid);
  ASSERT_EQ(studies_of.size(), 2u);
  const std::string patient_a = studies_of.begin()->first;
  const std::string patient_b = std::next(studies_of.begin())->first;
  const std::string study1 = *studies_of[patient_a].begin();
  const std::string study2 = *std::next(studies_of[patient_a].begin());
  std::set<std::string> series_of_study1;
  for (const auto& s : stored_)
    if (s.study_uid == study1) series_of_study1.insert(s.series_uid);
  const std::string series1 = *series_of_study1.begin();
  const std::string series2 = *std::next(series_of_study1.begin());
  const StoredFile* instance = nullptr;
  for (const auto& s : stored_)
    if (s.series_uid == series2 && !instance) instance = &s;
  ASSERT_TRUE(instance);
  const std::string instance_file = path_of(instance->sop_uid);
  ASSERT_TRUE(fs::exists(instance_file));
  const auto files_before = files_on_disk();
  ASSERT_EQ(files_before.size(), 24u);

  // Refusals first: nothing changes.
  EXPECT_EQ(remove("/studies/" + study1, "robot-token").status, 403);  // write is not admin
  EXPECT_EQ(
      testing::http_request(node_->http_port(), "DELETE", "/api/admin/studies/" + study1).status,
      401);
  EXPECT_EQ(testing::http_request(node_->http_port(), "GET", "/api/admin/studies/" + study1,
                                  {"Authorization: Bearer ops-token"})
                .status,
            405);
  EXPECT_EQ(remove("/studies/1.2.3.404").status, 404);
  EXPECT_EQ(remove("/studies/" + study2 + "/series/" + series1).status, 404);  // wrong study
  EXPECT_EQ(remove("/things/1").status, 404);
  EXPECT_EQ(files_on_disk(), files_before);
  EXPECT_EQ(qido_count("/instances"), 24);

  // Instance.
  auto r = remove("/studies/" + study1 + "/series/" + series2 + "/instances/" + instance->sop_uid);
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = testing::parse_json(r.body).as_object();
  EXPECT_EQ(body.at("removed").at("instances").to_number<int>(), 1);
  EXPECT_EQ(body.at("removed").at("series").to_number<int>(), 0);
  EXPECT_FALSE(fs::exists(instance_file));
  EXPECT_EQ(qido_count("/instances?SOPInstanceUID=" + instance->sop_uid), 0);
  EXPECT_EQ(testing::http_request(node_->http_port(), "GET",
                                  "/dicom-web/studies/" + study1 + "/series/" + series2 +
                                      "/instances/" + instance->sop_uid,
                                  {"Authorization: Bearer ops-token"})
                .status,
            404);
  EXPECT_EQ(study_number(study1, "00201208"), 5);  // NumberOfStudyRelatedInstances
  EXPECT_EQ(retrieved(study1), 5u);
  EXPECT_EQ(remove("/studies/" + study1 + "/series/" + series2 + "/instances/" + instance->sop_uid)
                .status,
            404);  // gone already

  // Series.
  r = remove("/studies/" + study1 + "/series/" + series1);
  ASSERT_EQ(r.status, 200) << r.body;
  body = testing::parse_json(r.body).as_object();
  EXPECT_EQ(body.at("removed").at("instances").to_number<int>(), 3);
  EXPECT_EQ(body.at("removed").at("series").to_number<int>(), 1);
  EXPECT_EQ(study_number(study1, "00201206"), 1);  // NumberOfStudyRelatedSeries
  EXPECT_EQ(study_number(study1, "00201208"), 2);
  EXPECT_EQ(qido_count("/series?SeriesInstanceUID=" + series1), 0);
  EXPECT_EQ(retrieved(study1), 2u);

  // Study: the patient keeps the other one.
  r = remove("/studies/" + study2);
  ASSERT_EQ(r.status, 200) << r.body;
  body = testing::parse_json(r.body).as_object();
  EXPECT_EQ(body.at("removed").at("studies").to_number<int>(), 1);
  EXPECT_EQ(body.at("removed").at("patients").to_number<int>(), 0);
  EXPECT_EQ(body.at("studies").as_array()[0].at("wholeStudy").as_bool(), true);
  EXPECT_EQ(qido_count("/studies?PatientID=" + patient_a), 1);
  EXPECT_EQ(retrieved(study2), 0u);
  const fs::path found = dir_.path() / "find";
  fs::create_directories(found);
  const auto find =
      testing::run_dcmtk_tool({"findscu", "-P", "-aec", "PACSNODE", "-X", "-od", found.string()},
                              {"QueryRetrieveLevel=PATIENT", "PatientID=" + patient_a,
                               "NumberOfPatientRelatedStudies", "NumberOfPatientRelatedInstances"},
                              node_->dimse_port());
  const auto answers = testing::files_below(found);
  ASSERT_EQ(answers.size(), 1u) << find.output;
  EXPECT_EQ(testing::value_of(answers[0], DCM_NumberOfPatientRelatedStudies), "1");
  EXPECT_EQ(testing::value_of(answers[0], DCM_NumberOfPatientRelatedInstances), "2");

  // Patient: every study of it, and the patient.
  r = remove("/patients/" + patient_b);
  ASSERT_EQ(r.status, 200) << r.body;
  body = testing::parse_json(r.body).as_object();
  EXPECT_EQ(body.at("removed").at("patients").to_number<int>(), 1);
  EXPECT_EQ(body.at("removed").at("studies").to_number<int>(), 2);
  EXPECT_EQ(body.at("removed").at("instances").to_number<int>(), 12);
  EXPECT_EQ(qido_count("/studies?PatientID=" + patient_b), 0);

  // Left: study 1's second series minus one instance. Index and disk agree; fsck finds the counts
  // right.
  EXPECT_EQ(qido_count("/instances"), 2);
  EXPECT_EQ(files_on_disk().size(), 2u);
  const auto counts = node_->open_index()->counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->patients, 1);
  EXPECT_EQ(counts->studies, 1);
  EXPECT_EQ(counts->series, 1);
  EXPECT_EQ(counts->instances, 2);

  // Each removal is a DICOM Study Deleted audit event naming its study.
  const std::string audit =
      testing::read_all_once_it_holds(node_->data_dir() / "audit.log", patient_b);
  for (const auto& study : {study1, study2})
    EXPECT_NE(audit.find(study), std::string::npos) << "no audit record names " << study;
  EXPECT_NE(audit.find("csd-code=\"110105\""), std::string::npos) << audit.substr(0, 2000);

  ASSERT_EQ(node_->stop(), 0);
  const auto fsck = node_->fsck();
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
}

// IOCM: a rejection note over C-STORE and another over STOW-RS take their instances out of
// queries and retrieves as they are stored (a resent note changes nothing); the files stay for the
// grace period (3 s here), then go.
TEST_P(RemovalTest, RejectionNotesHideTheirInstancesAndTheFilesGoAfterTheGracePeriod) {
  const std::string study = stored_.front().study_uid;
  std::vector<const StoredFile*> of_study;
  for (const auto& s : stored_)
    if (s.study_uid == study) of_study.push_back(&s);
  ASSERT_EQ(of_study.size(), 6u);
  const StoredFile* by_cstore = of_study[0];
  const StoredFile* by_stow = of_study[5];
  const std::string file_cstore = path_of(by_cstore->sop_uid);
  const std::string file_stow = path_of(by_stow->sop_uid);

  const fs::path note1 = dir_.path() / "note1.dcm";
  write_rejection_note(note1, {by_cstore}, "113001", "Rejected for Quality Reasons");
  auto sent = testing::storescu_each(node_->dimse_port(), {note1.string()});
  EXPECT_EQ(testing::responses_with(sent.output, "Success"), 1u) << sent.output;
  EXPECT_EQ(qido_count("/instances?SOPInstanceUID=" + by_cstore->sop_uid), 0);
  EXPECT_EQ(qido_count("/studies/" + study + "/instances"), 6);  // 5 left and the note
  EXPECT_EQ(retrieved(study), 6u);
  EXPECT_EQ(study_number(study, "00201208"), 6);
  EXPECT_TRUE(fs::exists(file_cstore)) << "purged before the grace period";
  // Resent: stored again as identical, nothing more rejected.
  sent = testing::storescu_each(node_->dimse_port(), {note1.string()});
  EXPECT_EQ(testing::responses_with(sent.output, "Success"), 1u) << sent.output;
  EXPECT_EQ(qido_count("/studies/" + study + "/instances"), 6);

  const fs::path note2 = dir_.path() / "note2.dcm";
  write_rejection_note(note2, {by_stow}, "113037", "Rejected for Patient Safety Reasons");
  const auto stowed = testing::stow(node_->http_port(), {note2}, dir_.path() / "body",
                                    {"Authorization: Bearer ops-token"});
  EXPECT_EQ(stowed.status, 200) << stowed.body;
  EXPECT_EQ(qido_count("/studies/" + study + "/instances"), 6);  // 4 left and two notes
  EXPECT_EQ(testing::http_request(node_->http_port(), "GET",
                                  "/dicom-web/studies/" + study + "/series/" + by_stow->series_uid +
                                      "/instances/" + by_stow->sop_uid,
                                  {"Authorization: Bearer ops-token"})
                .status,
            404);

  // After the grace period both files go (the purge wakes when the first falls due).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((fs::exists(file_cstore) || fs::exists(file_stow)) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(fs::exists(file_cstore));
  EXPECT_FALSE(fs::exists(file_stow));
  EXPECT_EQ(files_on_disk().size(), 24u);  // 22 instances and the two notes
  const std::string audit =
      testing::read_all_once_it_holds(node_->data_dir() / "audit.log", "csd-code=\"110105\"");
  EXPECT_NE(audit.find("csd-code=\"110105\""), std::string::npos);
  ASSERT_EQ(node_->stop(), 0);
  EXPECT_EQ(node_->fsck().exit_code, 0);
}

// `pacsnode delete` does what the API does; a second run finds nothing (exit 3).
TEST_P(RemovalTest, TheDeleteCommandRemovesAStudyAndItsFiles) {
  const std::string study = stored_.front().study_uid;
  ASSERT_EQ(node_->stop(), 0);
  const std::vector<std::string> command = {
      testing::pacsnode_binary(), "delete", "study",    study, "--data-dir",
      node_->data_dir().string(), "--db",   node_->db()};
  const auto first = testing::run(command);
  EXPECT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("6 instance(s)"), std::string::npos) << first.output;
  EXPECT_EQ(testing::run(command).exit_code, 3);
  auto bad = command;
  bad[2] = "everything";
  EXPECT_EQ(testing::run(bad).exit_code, 2);
  EXPECT_EQ(files_on_disk().size(), 18u);
  EXPECT_EQ(node_->open_index()->counts()->instances, 18);
  EXPECT_EQ(node_->fsck().exit_code, 0);
  EXPECT_NE(testing::read_all(node_->data_dir() / "audit.log").find(study), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, RemovalTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
