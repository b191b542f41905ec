// De-identified export and retrieval against the real node: a route with ;deidentify delivers
// de-identified copies to a research AE (storescp) while the stored originals stay as they came,
// an object with burned-in annotation is refused for that destination with its reason, and
// WADO-URI anonymize=yes answers with a de-identified object (409 for a burned-in one).
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/process.h"
#include "tests/support/storescp.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

// A copy of the file marked as showing burned-in text.
fs::path burned_in_copy(const fs::path& file, const fs::path& out) {
  DcmFileFormat ff;
  EXPECT_TRUE(ff.loadFile(file.c_str()).good());
  ff.getDataset()->putAndInsertString(DCM_BurnedInAnnotation, "YES");
  ff.getDataset()->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.10.999.77");
  EXPECT_TRUE(ff.saveFile(out.c_str(), EXS_LittleEndianExplicit).good());
  return out;
}

TEST(DeidentifyExport, ARouteDeliversDeidentifiedCopiesAndKeepsTheOriginals) {
  testing::TempDir dir;
  testing::Storescp research;
  TestNode node({.extra_flags = {"--peer", "DEST=127.0.0.1:" + std::to_string(research.port()),
                                 "--route", "modality=CT->DEST;deidentify=retain-dates",
                                 "--route-retry-seconds", "0.2", "--route-max-attempts", "1"}});
  node.start();
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "2", "--series", "1", "--instances",
                              "2", "--rows", "16", "--columns", "16", "--modality", "CT"});
  ASSERT_EQ(files.size(), 4u);
  const fs::path burned = burned_in_copy(files[0], dir.path() / "burned.dcm");
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.string());
  paths.push_back(burned.string());
  ASSERT_EQ(testing::storescu(node.dimse_port(), paths).exit_code, 0);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline &&
         node.queue_count("sent") + node.queue_count("failed") < 5)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(node.queue_count("sent"), 4) << node.log();
  ASSERT_EQ(node.queue_count("failed"), 1) << node.log();
  const auto failed = node.open_index()->queue_items("failed", 10).value();
  EXPECT_EQ(failed.at(0).sop_instance_uid, "1.2.826.0.1.3680043.10.999.77");
  EXPECT_NE(failed.at(0).last_error.find("Burned In Annotation"), std::string::npos)
      << failed.at(0).last_error;

  // What arrived: de-identified, one pseudonym for the patient, other UIDs, dates kept.
  const auto received = research.files();
  ASSERT_EQ(received.size(), 4u);
  std::set<std::string> original_sops, original_dates, studies, patient_ids;
  for (const auto& f : files) {
    original_sops.insert(testing::identity_of(f).sop_instance_uid);
    original_dates.insert(testing::value_of(f, DCM_StudyDate));
  }
  for (const auto& f : received) {
    EXPECT_EQ(testing::value_of(f, DCM_PatientIdentityRemoved), "YES");
    EXPECT_FALSE(original_sops.count(testing::identity_of(f).sop_instance_uid));
    EXPECT_TRUE(testing::identity_of(f).sop_instance_uid.starts_with("2.25."));
    EXPECT_TRUE(original_dates.count(testing::value_of(f, DCM_StudyDate)));  // retain-dates
    EXPECT_TRUE(testing::value_of(f, DCM_AccessionNumber).empty());
    studies.insert(testing::value_of(f, DCM_StudyInstanceUID));
    patient_ids.insert(testing::value_of(f, DCM_PatientID));
    EXPECT_NE(testing::value_of(f, DCM_PatientName), testing::value_of(files[0], DCM_PatientName));
  }
  EXPECT_EQ(studies.size(), 2u);
  ASSERT_EQ(patient_ids.size(), 1u);
  EXPECT_NE(*patient_ids.begin(), testing::value_of(files[0], DCM_PatientID));

  // The stored originals are untouched.
  for (const auto& f : files) {
    const auto row = node.open_index()->find_instance(testing::identity_of(f).sop_instance_uid);
    ASSERT_TRUE(row && *row);
  }
  const auto original =
      testing::http_request(node.http_port(), "GET",
                            "/wado?requestType=WADO&contentType=application/dicom&studyUID=" +
                                testing::value_of(files[0], DCM_StudyInstanceUID) +
                                "&seriesUID=" + testing::value_of(files[0], DCM_SeriesInstanceUID) +
                                "&objectUID=" + testing::identity_of(files[0]).sop_instance_uid);
  ASSERT_EQ(original.status, 200);
  testing::write_all(dir.path() / "original.dcm", original.body);
  EXPECT_EQ(testing::value_of(dir.path() / "original.dcm", DCM_PatientID),
            testing::value_of(files[0], DCM_PatientID));
  EXPECT_TRUE(testing::value_of(dir.path() / "original.dcm", DCM_PatientIdentityRemoved).empty());
  // Every export is in the audit trail.
  const std::string audit =
      testing::read_all_once_it_holds(node.data_dir() / "audit.log", "csd-code=\"110106\"");
  EXPECT_NE(audit.find("csd-code=\"110106\""), std::string::npos);
}

TEST(DeidentifyExport, WadoUriAnonymizeAnswersADeidentifiedObjectAndRefusesBurnedIn) {
  testing::TempDir dir;
  TestNode node({});
  node.start();
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "1", "--rows", "16", "--columns", "16", "--modality", "CT"});
  const fs::path burned = burned_in_copy(files[0], dir.path() / "burned.dcm");
  ASSERT_EQ(testing::storescu(node.dimse_port(), {files[0].string(), burned.string()}).exit_code,
            0);
  auto wado = [&](const std::string& sop, const std::string& extra) {
    return testing::http_request(
        node.http_port(), "GET",
        "/wado?requestType=WADO&contentType=application/dicom&studyUID=" +
            testing::value_of(files[0], DCM_StudyInstanceUID) + "&seriesUID=" +
            testing::value_of(files[0], DCM_SeriesInstanceUID) + "&objectUID=" + sop + extra);
  };
  const std::string sop = testing::identity_of(files[0]).sop_instance_uid;
  const auto first = wado(sop, "&anonymize=yes"), second = wado(sop, "&anonymize=yes");
  ASSERT_EQ(first.status, 200) << first.body;
  testing::write_all(dir.path() / "a.dcm", first.body);
  testing::write_all(dir.path() / "b.dcm", second.body);
  EXPECT_EQ(testing::value_of(dir.path() / "a.dcm", DCM_PatientIdentityRemoved), "YES");
  EXPECT_NE(testing::value_of(dir.path() / "a.dcm", DCM_PatientID),
            testing::value_of(files[0], DCM_PatientID));
  EXPECT_NE(testing::identity_of(dir.path() / "a.dcm").sop_instance_uid, sop);
  // The same object twice: the same pseudonyms and UIDs.
  EXPECT_EQ(testing::canonical_dataset(dir.path() / "a.dcm"),
            testing::canonical_dataset(dir.path() / "b.dcm"));

  const auto refused = wado("1.2.826.0.1.3680043.10.999.77", "&anonymize=yes");
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(refused.body.find("Burned In Annotation"), std::string::npos) << refused.body;
  EXPECT_EQ(wado(sop, "&anonymize=maybe").status, 400);

  // WADO-RS with anonymize=yes (a pacsnode extension): the series, de-identified.
  const auto rs = testing::http_request(
      node.http_port(), "GET",
      "/dicom-web/studies/" + testing::value_of(files[0], DCM_StudyInstanceUID) + "/series/" +
          testing::value_of(files[0], DCM_SeriesInstanceUID) + "?anonymize=yes",
      {"Accept: multipart/related; type=\"application/dicom\""});
  // The burned-in one is left out (found after the answer began: logged, not a 206).
  EXPECT_EQ(rs.status, 200) << rs.body.substr(0, 300);
  std::size_t parts = 0;
  for (auto at = rs.body.find("Content-Type: application/dicom"); at != std::string::npos;
       at = rs.body.find("Content-Type: application/dicom", at + 1))
    ++parts;
  EXPECT_EQ(parts, 1u);
  EXPECT_NE(rs.body.find("ANONYMOUS^"), std::string::npos);
  EXPECT_EQ(rs.body.find(testing::value_of(files[0], DCM_PatientID)), std::string::npos);
}

}  // namespace
}  // namespace pacs
