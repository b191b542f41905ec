// C-FIND with DCMTK findscu against a corpus with known attributes, for both index backends.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "tests/support/dicom_files.h"
#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

const std::string kRoot = "1.2.826.0.1.3680043.10.1457.77.";
std::string uid(const std::string& suffix) {
  return kRoot + suffix;
}

struct Instance {
  std::string patient_id, patient_name, birth_date, sex, charset;
  std::string study, study_date, study_time, accession, description;
  std::string series, modality, series_number;
  std::string sop, instance_number, comments;
};

// P1 Doe^Jane: S1 (CT, two series, 3 instances), S2 (MR, 2 instances)
// P2 Smith^John with an ideographic group: S3 (CT, 1 instance)
// P3 Müller^Jörg in ISO_IR 100: S4 (CR, 1 instance)
std::vector<Instance> corpus() {
  std::vector<Instance> v;
  auto add = [&](Instance i) { v.push_back(std::move(i)); };
  add({"P1", "Doe^Jane", "19700101", "F", "", "1", "20260110", "101500", "ACC1", "CT HEAD", "1.1",
       "CT", "1", "1.1.1", "1", "first"});
  add({"P1", "Doe^Jane", "19700101", "F", "", "1", "20260110", "101500", "ACC1", "CT HEAD", "1.1",
       "CT", "1", "1.1.2", "2", "second"});
  add({"P1", "Doe^Jane", "19700101", "F", "", "1", "20260110", "101500", "ACC1", "CT HEAD", "1.2",
       "CT", "2", "1.2.1", "1", "third"});
  add({"P1", "Doe^Jane", "19700101", "F", "", "2", "20260220", "083000", "ACC2", "MR KNEE", "2.1",
       "MR", "1", "2.1.1", "1", ""});
  add({"P1", "Doe^Jane", "19700101", "F", "", "2", "20260220", "083000", "ACC2", "MR KNEE", "2.1",
       "MR", "1", "2.1.2", "2", ""});
  add({"P2", "Smith^John=\xe3\x82\xb9\xe3\x83\x9f\xe3\x82\xb9^\xe3\x82\xb8\xe3\x83\xa7\xe3\x83\xb3",
       "19800202", "M", "ISO_IR 192", "3", "20251231", "230000", "X9", "CT CHEST", "3.1", "CT", "1",
       "3.1.1", "1", ""});
  add({"P3", "M\xfcller^J\xf6rg", "19900303", "M", "ISO_IR 100", "4", "20260301", "120000", "",
       "CR HAND", "4.1", "CR", "1", "4.1.1", "1", ""});
  return v;
}

struct FindResult {
  std::vector<std::unique_ptr<DcmFileFormat>> responses;
  std::string final_status;  // what findscu printed in parentheses
  std::string output;
  std::vector<std::string> values(const DcmTagKey& tag) const {
    std::vector<std::string> out;
    for (const auto& r : responses) {
      OFString v;
      r->getDataset()->findAndGetOFStringArray(tag, v);
      out.emplace_back(v.c_str());
    }
    return out;
  }
  std::set<std::string> set_of(const DcmTagKey& tag) const {
    auto v = values(tag);
    return {v.begin(), v.end()};
  }
};

class FindTest : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {}

  void SetUp() override {
    std::string url;
    PACS_REQUIRE_BACKEND(GetParam(), url);
    node_ = std::make_unique<TestNode>(TestNode::Options{.db = url, .extra_flags = {}});
    node_->start();
    const auto templ = testing::generate_corpus(
        dir_.path() / "template", {"--patients", "1", "--studies", "1", "--series", "1",
                                   "--instances", "1", "--rows", "16", "--columns", "16"})[0];
    std::vector<fs::path> files;
    for (const Instance& i : corpus()) {
      DcmFileFormat ff;
      ASSERT_TRUE(ff.loadFile(templ.c_str()).good());
      DcmDataset& d = *ff.getDataset();
      if (i.charset.empty())
        d.findAndDeleteElement(DCM_SpecificCharacterSet);
      else
        d.putAndInsertString(DCM_SpecificCharacterSet, i.charset.c_str());
      d.putAndInsertString(DCM_PatientID, i.patient_id.c_str());
      d.putAndInsertString(DCM_PatientName, i.patient_name.c_str());
      d.putAndInsertString(DCM_PatientBirthDate, i.birth_date.c_str());
      d.putAndInsertString(DCM_PatientSex, i.sex.c_str());
      d.putAndInsertString(DCM_StudyInstanceUID, uid(i.study).c_str());
      d.putAndInsertString(DCM_StudyDate, i.study_date.c_str());
      d.putAndInsertString(DCM_StudyTime, i.study_time.c_str());
      d.putAndInsertString(DCM_AccessionNumber, i.accession.c_str());
      d.putAndInsertString(DCM_StudyDescription, i.description.c_str());
      d.putAndInsertString(DCM_SeriesInstanceUID, uid(i.series).c_str());
      d.putAndInsertString(DCM_Modality, i.modality.c_str());
      d.putAndInsertString(DCM_SeriesNumber, i.series_number.c_str());
      d.putAndInsertString(DCM_SOPInstanceUID, uid(i.sop).c_str());
      ff.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, uid(i.sop).c_str());
      d.putAndInsertString(DCM_InstanceNumber, i.instance_number.c_str());
      if (!i.comments.empty()) d.putAndInsertString(DCM_ImageComments, i.comments.c_str());
      // Procedure codes: S1 one (CT head), S2 two (MR knee, with contrast), the others none.
      auto add_code = [&](const char* value, const char* meaning) {
        DcmItem* item = nullptr;
        ASSERT_TRUE(d.findOrCreateSequenceItem(DCM_ProcedureCodeSequence, item, -2).good());
        item->putAndInsertString(DCM_CodeValue, value);
        item->putAndInsertString(DCM_CodingSchemeDesignator, "99LOCAL");
        item->putAndInsertString(DCM_CodeMeaning, meaning);
      };
      if (i.study == "1") add_code("CTHEAD", "CT head");
      if (i.study == "2") {
        add_code("MRKNEE", "MR knee");
        add_code("MRCON", "MR contrast");
      }
      files.push_back(dir_.path() / (i.sop + ".dcm"));
      ASSERT_TRUE(ff.saveFile(files.back().c_str(), EXS_LittleEndianExplicit).good());
    }
    for (const auto& a : testing::store_each(node_->dimse_port(), files))
      ASSERT_EQ(a.status, 0) << a.file << node_->log();
  }

  // findscu -X writes each response to a file; -v prints the statuses.
  FindResult find(const std::string& model, std::vector<std::string> keys,
                  std::vector<std::string> extra = {}) {
    const auto out = dir_.path() / ("find" + std::to_string(counter_++));
    fs::create_directories(out);
    std::vector<std::string> argv = {"findscu",  "-v", model, "-aec",
                                     "PACSNODE", "-X", "-od", out.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = testing::run_dcmtk_tool(argv, keys, node_->dimse_port());
    FindResult result;
    result.output = r.output;
    std::smatch m;
    if (std::regex_search(r.output, m, std::regex("Received Final Find Response \\(([^)]*)\\)")))
      result.final_status = m[1].str();
    for (const auto& f : testing::files_below(out)) {
      auto ff = std::make_unique<DcmFileFormat>();
      EXPECT_TRUE(ff->loadFile(f.c_str()).good());
      result.responses.push_back(std::move(ff));
    }
    return result;
  }

  std::set<std::string> studies(std::initializer_list<const char*> suffixes) {
    std::set<std::string> out;
    for (const char* s : suffixes) out.insert(uid(s));
    return out;
  }

  std::unique_ptr<TestNode> node_;
  testing::TempDir dir_;
  int counter_ = 0;
};

constexpr const char* kStudyRoot = "-S";
constexpr const char* kPatientRoot = "-P";

TEST_P(FindTest, StudyLevelMatchingTypes) {
  struct Case {
    std::string key;
    std::set<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"PatientName", studies({"1", "2", "3", "4"})},    // universal (empty)
      {"PatientName=*", studies({"1", "2", "3", "4"})},  // universal (*)
      {"PatientID=P1", studies({"1", "2"})},             // single value
      {"PatientID=NOBODY", {}},                          // no match
      {"PatientName=doe*", studies({"1", "2"})},         // PN wildcard, any case
      {"PatientName=D?E^JANE", studies({"1", "2"})},     // '?' wildcard
      {"PatientName=Smith^John", studies({"3"})},        // first component group
      {"PatientName=smith*", studies({"3"})},
      {"StudyDate=20260110", studies({"1"})},                                   // single date
      {"StudyDate=20260101-20260228", studies({"1", "2"})},                     // closed range
      {"StudyDate=20260201-", studies({"2", "4"})},                             // open high
      {"StudyDate=-20251231", studies({"3"})},                                  // open low
      {"StudyTime=080000-110000", studies({"1", "2"})},                         // time range
      {"StudyInstanceUID=" + uid("1") + "\\" + uid("3"), studies({"1", "3"})},  // UID list
      {"ModalitiesInStudy=MR", studies({"2"})},
      {"ModalitiesInStudy=CT\\CR", studies({"1", "3", "4"})},
      {"AccessionNumber=ACC*", studies({"1", "2"})},
      {"StudyDescription=*KNEE", studies({"2"})},
      {"StudyDescription=ct*", {}},  // LO is case-sensitive
      {"PatientBirthDate=19750101-19850101", studies({"3"})},
      {"PatientSex=M", studies({"3", "4"})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    auto r = find(kStudyRoot, {"QueryRetrieveLevel=STUDY", "StudyInstanceUID", c.key});
    EXPECT_EQ(r.final_status, "Success") << r.output;
    EXPECT_EQ(r.set_of(DCM_StudyInstanceUID), c.expected) << r.output;
    EXPECT_EQ(r.responses.size(), c.expected.size());
  }
}

// PS3.4 C.2.2.2.6: a sequence key's item keys match within one stored item; answers carry only
// the matching items, with only the requested sub-attributes.
TEST_P(FindTest, SequenceMatching) {
  auto codes = [](const FindResult& r, std::size_t response) {
    std::vector<std::string> out;
    DcmSequenceOfItems* sequence = nullptr;
    if (r.responses[response]
            ->getDataset()
            ->findAndGetSequence(DCM_ProcedureCodeSequence, sequence)
            .bad())
      return out;
    for (unsigned long i = 0; i < sequence->card(); ++i) {
      OFString value, meaning;
      sequence->getItem(i)->findAndGetOFString(DCM_CodeValue, value);
      const bool has_meaning =
          sequence->getItem(i)->findAndGetOFString(DCM_CodeMeaning, meaning).good();
      out.push_back(std::string(value.c_str()) + (has_meaning ? "+meaning" : ""));
    }
    return out;
  };
  auto knee = find(kStudyRoot, {"QueryRetrieveLevel=STUDY", "StudyInstanceUID",
                                "ProcedureCodeSequence[0].CodeValue=MRKNEE"});
  ASSERT_EQ(knee.responses.size(), 1u) << knee.output;
  EXPECT_EQ(knee.values(DCM_StudyInstanceUID)[0], uid("2"));
  EXPECT_EQ(codes(knee, 0), std::vector<std::string>{"MRKNEE"}) << "only the matching item";

  // Wildcards inside the item; two keys must hold in the same item.
  auto mr = find(kStudyRoot, {"QueryRetrieveLevel=STUDY", "StudyInstanceUID",
                              "ProcedureCodeSequence[0].CodeValue=MR*",
                              "ProcedureCodeSequence[0].CodeMeaning"});
  ASSERT_EQ(mr.responses.size(), 1u) << mr.output;
  EXPECT_EQ(codes(mr, 0), (std::vector<std::string>{"MRKNEE+meaning", "MRCON+meaning"}));
  auto crossed = find(kStudyRoot, {"QueryRetrieveLevel=STUDY", "StudyInstanceUID",
                                   "ProcedureCodeSequence[0].CodeValue=MRKNEE",
                                   "ProcedureCodeSequence[0].CodeMeaning=MR contrast"});
  EXPECT_TRUE(crossed.responses.empty()) << "the keys hold in different items";
  EXPECT_EQ(crossed.final_status, "Success");

  // An empty item is universal: every study, whole items where there are any.
  auto all =
      find(kStudyRoot, {"QueryRetrieveLevel=STUDY", "StudyInstanceUID", "ProcedureCodeSequence"});
  ASSERT_EQ(all.responses.size(), 4u) << all.output;
  std::map<std::string, std::vector<std::string>> by_study;
  for (std::size_t i = 0; i < all.responses.size(); ++i)
    by_study[all.values(DCM_StudyInstanceUID)[i]] = codes(all, i);
  EXPECT_EQ(by_study[uid("1")], std::vector<std::string>{"CTHEAD+meaning"});
  EXPECT_EQ(by_study[uid("2")], (std::vector<std::string>{"MRKNEE+meaning", "MRCON+meaning"}));
  EXPECT_TRUE(by_study[uid("3")].empty());

  // A sequence key at a level that does not keep it is ignored, with the warning status.
  auto patients = find(kPatientRoot, {"QueryRetrieveLevel=PATIENT", "PatientID=P1",
                                      "ProcedureCodeSequence[0].CodeValue=X"});
  EXPECT_EQ(patients.responses.size(), 1u) << patients.output;
  EXPECT_NE(patients.output.find("Pending: WarningUnsupportedOptionalKeys"), std::string::npos)
      << patients.output;
}

TEST_P(FindTest, StudyLevelReturnsStoredAndComputedKeys) {
  auto r =
      find(kStudyRoot, {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + uid("1"), "PatientName",
                        "PatientID", "StudyDate", "AccessionNumber", "NumberOfStudyRelatedSeries",
                        "NumberOfStudyRelatedInstances", "ModalitiesInStudy", "SOPClassesInStudy",
                        "ReferringPhysicianName", "InstitutionAddress"});
  ASSERT_EQ(r.responses.size(), 1u) << r.output;
  DcmDataset& d = *r.responses[0]->getDataset();
  auto get = [&d](const DcmTagKey& tag) {
    OFString v;
    d.findAndGetOFStringArray(tag, v);
    return std::string(v.c_str());
  };
  EXPECT_EQ(get(DCM_PatientID), "P1");
  EXPECT_EQ(get(DCM_StudyDate), "20260110");
  EXPECT_EQ(get(DCM_AccessionNumber), "ACC1");
  EXPECT_EQ(get(DCM_NumberOfStudyRelatedSeries), "2");
  EXPECT_EQ(get(DCM_NumberOfStudyRelatedInstances), "3");
  EXPECT_EQ(get(DCM_ModalitiesInStudy), "CT");
  EXPECT_EQ(get(DCM_SOPClassesInStudy), "1.2.840.10008.5.1.4.1.1.2");
  EXPECT_EQ(get(DCM_QueryRetrieveLevel), "STUDY");
  // Requested but unknown for this study: present and empty.
  EXPECT_TRUE(d.tagExists(DCM_InstitutionAddress));
  EXPECT_EQ(get(DCM_InstitutionAddress), "");
}

TEST_P(FindTest, SeriesAndImageLevels) {
  auto series = find(
      kStudyRoot, {"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + uid("1"), "SeriesInstanceUID",
                   "Modality=CT", "SeriesNumber", "NumberOfSeriesRelatedInstances"});
  EXPECT_EQ(series.final_status, "Success");
  EXPECT_EQ(series.set_of(DCM_SeriesInstanceUID), studies({"1.1", "1.2"}));
  std::map<std::string, std::string> counts;
  auto uids = series.values(DCM_SeriesInstanceUID),
       n = series.values(DCM_NumberOfSeriesRelatedInstances);
  for (std::size_t i = 0; i < uids.size(); ++i) counts[uids[i]] = n[i];
  EXPECT_EQ(counts[uid("1.1")], "2");
  EXPECT_EQ(counts[uid("1.2")], "1");

  auto by_modality =
      find(kStudyRoot, {"QueryRetrieveLevel=SERIES", "SeriesInstanceUID", "Modality=MR"});
  EXPECT_EQ(by_modality.set_of(DCM_SeriesInstanceUID), studies({"2.1"}));

  auto images = find(
      kStudyRoot, {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + uid("1"),
                   "SeriesInstanceUID=" + uid("1.1"), "SOPInstanceUID", "InstanceNumber", "Rows"});
  EXPECT_EQ(images.set_of(DCM_SOPInstanceUID), studies({"1.1.1", "1.1.2"}));
  EXPECT_EQ(images.set_of(DCM_Rows), std::set<std::string>{"16"});

  auto list = find(kStudyRoot, {"QueryRetrieveLevel=IMAGE",
                                "SOPInstanceUID=" + uid("1.1.1") + "\\" + uid("4.1.1")});
  EXPECT_EQ(list.set_of(DCM_SOPInstanceUID), studies({"1.1.1", "4.1.1"}));

  // An attribute without an index column, matched against the stored instance attributes.
  auto comments =
      find(kStudyRoot, {"QueryRetrieveLevel=IMAGE", "SOPInstanceUID", "ImageComments=*ir*"});
  EXPECT_EQ(comments.set_of(DCM_SOPInstanceUID), studies({"1.1.1", "1.2.1"}));
}

TEST_P(FindTest, PatientRootAtEveryLevel) {
  auto patients = find(kPatientRoot, {"QueryRetrieveLevel=PATIENT", "PatientID",
                                      "PatientName=*JOHN*", "NumberOfPatientRelatedStudies"});
  EXPECT_EQ(patients.set_of(DCM_PatientID), std::set<std::string>{"P2"});
  auto p1 = find(kPatientRoot,
                 {"QueryRetrieveLevel=PATIENT", "PatientID=P1", "NumberOfPatientRelatedStudies",
                  "NumberOfPatientRelatedSeries", "NumberOfPatientRelatedInstances"});
  ASSERT_EQ(p1.responses.size(), 1u);
  EXPECT_EQ(p1.values(DCM_NumberOfPatientRelatedStudies)[0], "2");
  EXPECT_EQ(p1.values(DCM_NumberOfPatientRelatedSeries)[0], "3");
  EXPECT_EQ(p1.values(DCM_NumberOfPatientRelatedInstances)[0], "5");
  auto born =
      find(kPatientRoot, {"QueryRetrieveLevel=PATIENT", "PatientID", "PatientBirthDate=-19751231"});
  EXPECT_EQ(born.set_of(DCM_PatientID), std::set<std::string>{"P1"});
  auto studies_of_p1 =
      find(kPatientRoot, {"QueryRetrieveLevel=STUDY", "PatientID=P1", "StudyInstanceUID"});
  EXPECT_EQ(studies_of_p1.set_of(DCM_StudyInstanceUID), studies({"1", "2"}));
  auto series = find(kPatientRoot, {"QueryRetrieveLevel=SERIES", "PatientID=P1",
                                    "StudyInstanceUID=" + uid("2"), "SeriesInstanceUID"});
  EXPECT_EQ(series.set_of(DCM_SeriesInstanceUID), studies({"2.1"}));
  auto images = find(kPatientRoot,
                     {"QueryRetrieveLevel=IMAGE", "PatientID=P1", "StudyInstanceUID=" + uid("2"),
                      "SeriesInstanceUID=" + uid("2.1"), "SOPInstanceUID"});
  EXPECT_EQ(images.set_of(DCM_SOPInstanceUID), studies({"2.1.1", "2.1.2"}));
}

TEST_P(FindTest, BadIdentifiersGetAFailureStatus) {
  auto no_level = find(kStudyRoot, {"PatientID"});
  EXPECT_EQ(no_level.final_status, "Error: DataSetDoesNotMatchSOPClass") << no_level.output;
  EXPECT_TRUE(no_level.responses.empty());
  auto patient_in_study_root = find(kStudyRoot, {"QueryRetrieveLevel=PATIENT", "PatientID"});
  EXPECT_EQ(patient_in_study_root.final_status, "Error: DataSetDoesNotMatchSOPClass");
  auto nonsense = find(kPatientRoot, {"QueryRetrieveLevel=FRAME", "PatientID"});
  EXPECT_EQ(nonsense.final_status, "Error: DataSetDoesNotMatchSOPClass");
  // The node still answers.
  EXPECT_EQ(find(kStudyRoot, {"QueryRetrieveLevel=STUDY", "StudyInstanceUID"}).responses.size(),
            4u);
}

TEST_P(FindTest, AKeyThatCannotBeMatchedAtTheLevelIsIgnoredWithAWarning) {
  auto r = find(kStudyRoot, {"QueryRetrieveLevel=STUDY", "StudyInstanceUID", "SliceThickness=5"});
  EXPECT_EQ(r.responses.size(), 4u);
  EXPECT_NE(r.output.find("Pending: WarningUnsupportedOptionalKeys"), std::string::npos)
      << r.output;
}

TEST_P(FindTest, Latin1QueriesMatchAndAreAnsweredInLatin1) {
  auto r = find(kStudyRoot, {"QueryRetrieveLevel=STUDY", "SpecificCharacterSet=ISO_IR 100",
                             "PatientName=M\xfcller*", "StudyInstanceUID"});
  ASSERT_EQ(r.responses.size(), 1u) << r.output;
  EXPECT_EQ(r.values(DCM_StudyInstanceUID)[0], uid("4"));
  EXPECT_EQ(r.values(DCM_SpecificCharacterSet)[0], "ISO_IR 100");
  EXPECT_EQ(r.values(DCM_PatientName)[0], "M\xfcller^J\xf6rg");
  // A UTF-8 query finds the same study and gets UTF-8 back.
  auto utf8 = find(kStudyRoot, {"QueryRetrieveLevel=STUDY", "SpecificCharacterSet=ISO_IR 192",
                                "PatientName=M\xc3\xbcller^J\xc3\xb6rg", "StudyInstanceUID"});
  ASSERT_EQ(utf8.responses.size(), 1u) << utf8.output;
  EXPECT_EQ(utf8.values(DCM_SpecificCharacterSet)[0], "ISO_IR 192");
  EXPECT_EQ(utf8.values(DCM_PatientName)[0], "M\xc3\xbcller^J\xc3\xb6rg");
}

INSTANTIATE_TEST_SUITE_P(Backends, FindTest, ::testing::Values("sqlite", "postgresql"));

TEST(FindLimits, CancelStopsTheResponsesAndTheLimitCutsThem) {
  TestNode node({.db = "sqlite", .extra_flags = {"--max-find-results", "1000"}});
  node.start();
  testing::TempDir dir;
  testing::generate_corpus(dir.path(), {"--patients", "1", "--studies", "1", "--series", "1",
                                        "--instances", "1200", "--rows", "16", "--columns", "16"});
  ASSERT_EQ(testing::storescu(node.dimse_port(), {dir.path().string()}).exit_code, 0);
  const std::vector<std::string> query = {
      "findscu",       "-v", "-S", "-aec", "PACSNODE", "-k", "QueryRetrieveLevel=IMAGE", "-k",
      "SOPInstanceUID"};
  auto run = [&](std::vector<std::string> extra) {
    auto argv = query;
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("127.0.0.1");
    argv.push_back(std::to_string(node.dimse_port()));
    return testing::run(argv, std::chrono::seconds(60), {"TCP_NODELAY=1"}).output;
  };
  auto count = [](const std::string& out) {
    std::size_t n = 0;
    for (std::size_t at = out.find("(Pending)"); at != std::string::npos;
         at = out.find("(Pending)", at + 1))
      ++n;
    return n;
  };
  const std::string limited = run({});
  EXPECT_EQ(count(limited), 1000u) << limited;
  EXPECT_NE(node.log().find("C-FIND result limit (1000) reached"), std::string::npos);
  const std::string cancelled = run({"--cancel", "1"});
  EXPECT_NE(
      cancelled.find("Received Final Find Response (Cancel: MatchingTerminatedDueToCancelRequest)"),
      std::string::npos)
      << cancelled;
  // Enough matches that the cancel, sent on the first response, arrives long before the end.
  EXPECT_LT(count(cancelled), 1000u);
}

}  // namespace
}  // namespace pacs
