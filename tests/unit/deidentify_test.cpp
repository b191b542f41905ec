// De-identification (PS3.15 Annex E): a corpus file, plus attributes that exercise more of Table
// E.1-1 (dates, descriptors, a private block, sequences with identifying items, an overlay), is
// de-identified under each option set, and every attribute of the input (nested ones included)
// is checked against the table's row for it. Then pseudonym and UID consistency, and refusals.
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "pacsnode/services/deidentify.h"
#include "pacsnode/services/routing.h"
#include "tests/support/dicom_files.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using deid::Options;

constexpr const char* kFamily = "Quincey";  // the synthetic patient's family name, put in text

std::string text(DcmItem& item, const DcmTagKey& tag) {
  OFString v;
  item.findAndGetOFStringArray(tag, v, OFFalse);
  return v.c_str();
}

std::string text(DcmElement& element) {
  OFString v;
  element.getOFStringArray(v);
  return v.c_str();
}

// A corpus CT file with more of the table in it. Every value is synthetic.
std::unique_ptr<DcmFileFormat> enriched(const fs::path& file) {
  auto ff = std::make_unique<DcmFileFormat>();
  EXPECT_TRUE(ff->loadFile(file.c_str()).good());
  DcmDataset& d = *ff->getDataset();
  const std::string name = text(d, DCM_PatientName);
  d.putAndInsertString(DCM_PatientName, (std::string(kFamily) + "^" + name).c_str());
  d.putAndInsertString(DCM_IssuerOfPatientID, "SYNTH-HOSPITAL");
  d.putAndInsertString(DCM_AcquisitionDate, "20240102");
  d.putAndInsertString(DCM_AcquisitionTime, "101010");
  d.putAndInsertString(DCM_InstanceCreationDate, "20240102");
  d.putAndInsertString(DCM_InstanceCreationTime, "101011");
  d.putAndInsertString(DCM_PatientAge, "042Y");
  d.putAndInsertString(DCM_AdditionalPatientHistory,
                       (std::string("follow-up of ") + kFamily + ", see earlier CT").c_str());
  d.putAndInsertString(DCM_StudyDescription, (std::string("CT chest ") + kFamily).c_str());
  d.putAndInsertString(DCM_DeviceSerialNumber, "SN-0042");
  d.putAndInsertString(DCM_StationName, "CT-ROOM-1");
  d.putAndInsertString(DCM_OperatorsName, "Operator^Olive");
  d.putAndInsertString(DCM_ImageComments, "synthetic comment");
  // A private block: creator and a value.
  d.putAndInsertString(DcmTag(0x0009, 0x0010, EVR_LO), "SYNTHETIC PRIVATE");
  d.putAndInsertString(DcmTag(0x0009, 0x1001, EVR_LO), "private identifying text");
  // A request sequence (X, C under Clean Descriptors) with identifying items.
  DcmItem* request = nullptr;
  d.findOrCreateSequenceItem(DCM_RequestAttributesSequence, request, -2);
  request->putAndInsertString(DCM_RequestedProcedureID, "RP-1");
  request->putAndInsertString(DCM_AccessionNumber, text(d, DCM_AccessionNumber).c_str());
  request->putAndInsertString(DCM_ScheduledProcedureStepID, "SPS-1");
  request->putAndInsertString(DCM_RequestedProcedureDescription,
                              (std::string("chest for ") + kFamily).c_str());
  // A reference to another image (X/Z/U*): its UID must be replaced consistently.
  DcmItem* reference = nullptr;
  d.findOrCreateSequenceItem(DCM_ReferencedImageSequence, reference, -2);
  reference->putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
  reference->putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.2.826.0.1.3680043.10.999.1");
  // A sequence the table does not list, holding one it does (K for sequences: items cleaned).
  DcmItem* code = nullptr;
  d.findOrCreateSequenceItem(DCM_ProcedureCodeSequence, code, -2);
  code->putAndInsertString(DCM_CodeValue, "CTCHEST");
  code->putAndInsertString(DCM_CodingSchemeDesignator, "99SYNTH");
  code->putAndInsertString(DCM_CodeMeaning, "CT chest");
  code->putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.2.826.0.1.3680043.10.999.2");
  // Other Patient IDs Sequence (X).
  DcmItem* other = nullptr;
  d.findOrCreateSequenceItem(DCM_OtherPatientIDsSequence, other, -2);
  other->putAndInsertString(DCM_PatientID, "OTHER-ID-1");
  // An overlay plane.
  d.putAndInsertUint16(DcmTagKey(0x6000, 0x0010), 4);
  d.putAndInsertUint16(DcmTagKey(0x6000, 0x0011), 4);
  d.putAndInsertString(DcmTagKey(0x6000, 0x0040), "G");
  const Uint16 bits[1] = {0xffff};
  d.putAndInsertUint16Array(DcmTagKey(0x6000, 0x3000), bits, 1);
  return ff;
}

enum class Expect { Kept, Removed, Emptied, Replaced, UidMapped, Cleaned, ItemsChecked };

// The expectation, read from the table's row by the rules deidentify.h states.
Expect expect(const DcmTagKey& tag, const Options& o) {
  const Uint16 g = tag.getGroup();
  if (tag.isPrivate() || ((g & 1) == 0 && ((g >= 0x5000 && g <= 0x50ff) || (g & 0xff00) == 0x6000)))
    return Expect::Removed;
  const deid::ProfileRow* row = deid::profile_row(tag);
  if (row == nullptr) return Expect::Kept;
  if ((o.retain_uids && row->retain_uids == 'K') || (o.retain_dates && row->retain_dates == 'K'))
    return Expect::Kept;
  if (o.clean_descriptors && row->clean_descriptors == 'C') return Expect::Cleaned;
  const std::string basic = row->basic;
  if (basic == "X") return Expect::Removed;
  if (basic == "Z" || basic == "X/Z") return Expect::Emptied;
  if (basic == "U") return Expect::UidMapped;
  if (basic == "X/Z/U*") return Expect::ItemsChecked;
  return Expect::Replaced;  // D, X/D, Z/D, X/Z/D
}

struct Tally {
  std::set<std::string> removed, emptied, replaced, uid_mapped, cleaned, kept;
  std::size_t checked = 0;
};

void check_item(DcmItem& in, DcmItem& out, const Options& o, const deid::Deidentifier& d,
                const deid::Pseudonym& patient, Tally& tally, const std::string& path) {
  for (unsigned long i = 0; i < in.card(); ++i) {
    DcmElement* before = in.getElement(i);
    const DcmTagKey tag = before->getTag();
    const std::string where = path + tag.toString().c_str();
    const Expect e = expect(tag, o);
    ++tally.checked;
    DcmElement* after = nullptr;
    out.findAndGetElement(tag, after, OFFalse);
    if (e == Expect::Removed) {
      EXPECT_EQ(after, nullptr) << where << " should be removed";
      tally.removed.insert(where);
      continue;
    }
    ASSERT_NE(after, nullptr) << where << " should be present";
    if (before->ident() == EVR_SQ) {
      auto* sb = static_cast<DcmSequenceOfItems*>(before);
      auto* sa = static_cast<DcmSequenceOfItems*>(after);
      if (e == Expect::Emptied) {
        EXPECT_EQ(sa->card(), 0u) << where;
        tally.emptied.insert(where);
        continue;
      }
      ASSERT_EQ(sa->card(), sb->card()) << where;
      for (unsigned long n = 0; n < sb->card(); ++n)
        check_item(*sb->getItem(n), *sa->getItem(n), o, d, patient, tally,
                   where + "[" + std::to_string(n) + "].");
      continue;
    }
    const std::string was = text(*before), now = text(*after);
    const bool is_name = tag == DCM_PatientName, is_id = tag == DCM_PatientID;
    switch (e) {
      case Expect::Kept:
      case Expect::ItemsChecked:
        EXPECT_EQ(now, was) << where << " should be kept";
        tally.kept.insert(where);
        break;
      case Expect::Emptied:
        if (is_name || is_id)
          EXPECT_EQ(now, is_name ? patient.patient_name : patient.patient_id) << where;
        else
          EXPECT_EQ(after->getLength(), 0u) << where << " should be empty";
        tally.emptied.insert(where);
        break;
      case Expect::Replaced:
        if (is_name || is_id)
          EXPECT_EQ(now, is_name ? patient.patient_name : patient.patient_id) << where;
        else if (before->ident() == EVR_UI)
          EXPECT_EQ(now, d.uid(was)) << where;
        else
          EXPECT_TRUE(!now.empty() && now != was)
              << where << ": '" << was << "' -> '" << now << "'";
        tally.replaced.insert(where);
        break;
      case Expect::UidMapped:
        EXPECT_EQ(now, d.uid(was)) << where;
        EXPECT_TRUE(now.starts_with("2.25.") && now.size() <= 64) << now;
        tally.uid_mapped.insert(where);
        break;
      case Expect::Cleaned:
        EXPECT_EQ(now.find(kFamily), std::string::npos) << where << ": " << now;
        if (was.find(kFamily) == std::string::npos) {
          EXPECT_EQ(now, was) << where;
        }
        tally.cleaned.insert(where);
        break;
      case Expect::Removed:
        break;
    }
  }
}

// De-identifies the enriched file under the options and checks every attribute it had.
Tally check_all(const fs::path& file, const Options& o) {
  const deid::Deidentifier d("unit-test-key-0123456789abcdef!!");
  auto original = enriched(file);
  DcmFileFormat copy(*original);
  DcmDataset& in = *original->getDataset();
  const auto patient = d.pseudonym(text(in, DCM_PatientID), text(in, DCM_IssuerOfPatientID));
  const auto applied = d.apply(copy, o);
  EXPECT_TRUE(applied) << (applied ? "" : applied.error().message);
  Tally tally;
  check_item(in, *copy.getDataset(), o, d, patient, tally, "");
  DcmDataset& out = *copy.getDataset();
  EXPECT_EQ(text(out, DCM_PatientIdentityRemoved), "YES");
  EXPECT_EQ(text(out, DCM_LongitudinalTemporalInformationModified),
            o.retain_dates ? "UNMODIFIED" : "REMOVED");
  std::set<std::string> codes;
  for (int n = 0;; ++n) {
    DcmItem* item = nullptr;
    if (out.findAndGetSequenceItem(DCM_DeidentificationMethodCodeSequence, item, n).bad()) break;
    EXPECT_EQ(text(*item, DCM_CodingSchemeDesignator), "DCM");
    codes.insert(text(*item, DCM_CodeValue));
  }
  std::set<std::string> wanted{"113100"};
  if (o.retain_uids) wanted.insert("113110");
  if (o.retain_dates) wanted.insert("113107");
  if (o.clean_descriptors) wanted.insert("113105");
  EXPECT_EQ(codes, wanted);
  EXPECT_FALSE(text(out, DCM_DeidentificationMethod).empty());
  // The meta header names the instance as the data set now does.
  EXPECT_EQ(text(*copy.getMetaInfo(), DCM_MediaStorageSOPInstanceUID),
            text(out, DCM_SOPInstanceUID));
  return tally;
}

class DeidentifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    files_ = new std::vector<fs::path>(testing::generate_corpus(
        dir_->path() / "corpus",
        {"--patients", "2", "--studies", "2", "--series", "1", "--instances", "1", "--rows", "16",
         "--columns", "16", "--modality", "CT"}));
  }
  static void TearDownTestSuite() {
    delete files_;
    delete dir_;
  }
  static std::vector<fs::path> of_patient(const std::string& id) {
    std::vector<fs::path> out;
    for (const auto& f : *files_)
      if (testing::value_of(f, DCM_PatientID) == id) out.push_back(f);
    return out;
  }
  static testing::TempDir* dir_;
  static std::vector<fs::path>* files_;
};
testing::TempDir* DeidentifyTest::dir_ = nullptr;
std::vector<fs::path>* DeidentifyTest::files_ = nullptr;

TEST_F(DeidentifyTest, BasicProfileActsOnEveryAttributeAsTheTableSays) {
  ASSERT_FALSE(files_->empty());
  const Tally t = check_all(files_->front(), {});
  // The enriched file reaches every kind of action.
  EXPECT_TRUE(t.removed.count("(0009,1001)"));
  EXPECT_TRUE(t.removed.count("(6000,3000)"));
  EXPECT_TRUE(t.removed.count("(6000,0010)"));
  EXPECT_TRUE(t.removed.count("(0040,0275)"));   // Request Attributes Sequence
  EXPECT_TRUE(t.removed.count("(0008,1030)"));   // Study Description
  EXPECT_TRUE(t.emptied.count("(0008,0050)"));   // Accession Number
  EXPECT_TRUE(t.emptied.count("(0010,0010)"));   // Patient's Name: the pseudonym
  EXPECT_TRUE(t.replaced.count("(0010,0020)"));  // Patient ID: the pseudonym
  EXPECT_TRUE(t.replaced.count("(0008,0080)"));  // Institution Name (X/Z/D)
  EXPECT_TRUE(t.uid_mapped.count("(0020,000d)"));
  EXPECT_TRUE(t.uid_mapped.count("(0008,1140)[0].(0008,1155)"));
  EXPECT_TRUE(t.uid_mapped.count("(0008,1032)[0].(0008,1155)"));
  EXPECT_TRUE(t.kept.count("(0008,0060)"));  // Modality: not in the table
  EXPECT_GT(t.checked, 60u);
}

TEST_F(DeidentifyTest, RetainUidsKeepsEveryUidTheTableLetsItKeep) {
  const Tally t = check_all(files_->front(), {.retain_uids = true});
  EXPECT_TRUE(t.kept.count("(0020,000d)"));
  EXPECT_TRUE(t.kept.count("(0008,0018)"));
  EXPECT_TRUE(t.kept.count("(0008,1140)[0].(0008,1155)"));
  EXPECT_TRUE(t.uid_mapped.empty());
}

TEST_F(DeidentifyTest, RetainFullDatesKeepsDatesAndTimes) {
  const Tally t = check_all(files_->front(), {.retain_dates = true});
  for (const char* tag : {"(0008,0020)", "(0008,0022)", "(0008,0032)", "(0008,0012)"})
    EXPECT_TRUE(t.kept.count(tag)) << tag;
  EXPECT_TRUE(t.emptied.count("(0010,0030)"));  // the birth date is not longitudinal
}

TEST_F(DeidentifyTest, CleanDescriptorsKeepsDescriptionsWithoutThePatientsName) {
  const Tally t = check_all(files_->front(), {.clean_descriptors = true});
  EXPECT_TRUE(t.cleaned.count("(0008,1030)"));
  EXPECT_TRUE(t.cleaned.count("(0010,21b0)"));
  EXPECT_TRUE(t.cleaned.count("(0040,0275)[0].(0032,1060)"));
}

TEST_F(DeidentifyTest, AllOptionsTogether) {
  const Tally t = check_all(files_->front(),
                            {.retain_uids = true, .retain_dates = true, .clean_descriptors = true});
  EXPECT_TRUE(t.kept.count("(0020,000d)"));
  EXPECT_TRUE(t.cleaned.count("(0008,1030)"));
}

TEST_F(DeidentifyTest, ThePseudonymsOfAPatientAgreeAcrossStudiesCallsAndRestarts) {
  const std::string first_id = testing::value_of(files_->front(), DCM_PatientID);
  const auto studies = of_patient(first_id);
  ASSERT_EQ(studies.size(), 2u);
  const deid::Deidentifier d("unit-test-key-0123456789abcdef!!");
  auto deidentified = [](const deid::Deidentifier& with, const fs::path& f) {
    auto ff = std::make_unique<DcmFileFormat>();
    EXPECT_TRUE(ff->loadFile(f.c_str()).good());
    EXPECT_TRUE(with.apply(*ff, {}));
    return ff;
  };
  auto a = deidentified(d, studies[0]), b = deidentified(d, studies[1]);
  DcmDataset &da = *a->getDataset(), &db = *b->getDataset();
  EXPECT_EQ(text(da, DCM_PatientID), text(db, DCM_PatientID));
  EXPECT_EQ(text(da, DCM_PatientName), text(db, DCM_PatientName));
  EXPECT_NE(text(da, DCM_PatientID), first_id);
  EXPECT_NE(text(da, DCM_StudyInstanceUID), text(db, DCM_StudyInstanceUID));
  EXPECT_NE(text(da, DCM_StudyInstanceUID), testing::value_of(studies[0], DCM_StudyInstanceUID));
  // The same UID maps the same way on every call, and with the same key after a restart.
  auto again = deidentified(deid::Deidentifier("unit-test-key-0123456789abcdef!!"), studies[0]);
  EXPECT_EQ(text(*again->getDataset(), DCM_StudyInstanceUID), text(da, DCM_StudyInstanceUID));
  EXPECT_EQ(text(*again->getDataset(), DCM_SOPInstanceUID), text(da, DCM_SOPInstanceUID));
  EXPECT_EQ(text(*again->getDataset(), DCM_PatientID), text(da, DCM_PatientID));
  // Another patient, another pseudonym; another key, other pseudonyms and UIDs.
  std::string other_id;
  for (const auto& f : *files_)
    if (testing::value_of(f, DCM_PatientID) != first_id)
      other_id = testing::value_of(f, DCM_PatientID);
  ASSERT_FALSE(other_id.empty());
  auto c = deidentified(d, of_patient(other_id).front());
  EXPECT_NE(text(*c->getDataset(), DCM_PatientID), text(da, DCM_PatientID));
  EXPECT_NE(text(*c->getDataset(), DCM_PatientName), text(da, DCM_PatientName));
  auto other_key = deidentified(deid::Deidentifier("another-key-0123456789abcdef!!!!"), studies[0]);
  EXPECT_NE(text(*other_key->getDataset(), DCM_PatientID), text(da, DCM_PatientID));
  EXPECT_NE(text(*other_key->getDataset(), DCM_StudyInstanceUID), text(da, DCM_StudyInstanceUID));
  // The same ID from another issuer is another patient.
  EXPECT_NE(d.pseudonym(first_id, "A").patient_id, d.pseudonym(first_id, "B").patient_id);
}

TEST_F(DeidentifyTest, TheKeyIsMadeOnceInTheDataDirectoryReadableByTheOwnerOnly) {
  testing::TempDir data;
  auto first = deid::Deidentifier::open(data.path());
  ASSERT_TRUE(first);
  struct stat st {};
  ASSERT_EQ(::stat((data.path() / "deidentify.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = deid::Deidentifier::open(data.path());
  ASSERT_TRUE(second);
  EXPECT_EQ(first->uid("1.2.3"), second->uid("1.2.3"));
  EXPECT_EQ(first->pseudonym("P", "").patient_id, second->pseudonym("P", "").patient_id);
}

TEST_F(DeidentifyTest, BurnedInAnnotationIsRefusedWithItsReasonUnlessAllowed) {
  const deid::Deidentifier d("unit-test-key-0123456789abcdef!!");
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile(files_->front().c_str()).good());
  ff.getDataset()->putAndInsertString(DCM_BurnedInAnnotation, "YES");
  DcmFileFormat copy(ff);
  auto refused = d.apply(copy, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::InvalidObject);
  EXPECT_NE(refused.error().message.find("Burned In Annotation"), std::string::npos);
  EXPECT_TRUE(d.apply(copy, {.allow_burned_in = true}));

  // Secondary capture without an explicit NO is refused; with NO it passes.
  DcmFileFormat sc(ff);
  sc.getDataset()->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  sc.getDataset()->findAndDeleteElement(DCM_BurnedInAnnotation);
  EXPECT_FALSE(d.apply(sc, {}));
  sc.getDataset()->putAndInsertString(DCM_BurnedInAnnotation, "NO");
  EXPECT_TRUE(d.apply(sc, {}));
}

TEST(DeidentifyOptions, RoutesNameTheirDeidentificationAndMustAgreePerDestination) {
  auto rule = parse_route("modality=CT->RESEARCH;deidentify=retain-uids+clean-descriptors");
  ASSERT_TRUE(rule) << rule.error().message;
  ASSERT_TRUE(rule->deidentify);
  EXPECT_TRUE(rule->deidentify->retain_uids && rule->deidentify->clean_descriptors);
  EXPECT_FALSE(rule->deidentify->retain_dates);
  EXPECT_EQ(deid::to_string(*rule->deidentify), "basic+retain-uids+clean-descriptors");
  auto plain = parse_route("->AI;deidentify");
  ASSERT_TRUE(plain && plain->deidentify);
  EXPECT_EQ(*plain->deidentify, Options{});
  EXPECT_FALSE(parse_route("->AI;deidentify=blur-faces"));
  EXPECT_FALSE(parse_route("->AI;anonymise"));
  const std::vector<RouteRule> conflicting{*rule, parse_route("modality=MR->RESEARCH").value()};
  EXPECT_FALSE(check_routes(conflicting));
  const std::vector<RouteRule> fine{*rule, parse_route("->ARCHIVE").value()};
  EXPECT_TRUE(check_routes(fine));
  EXPECT_TRUE(deidentification_for(fine, "RESEARCH"));
  EXPECT_FALSE(deidentification_for(fine, "ARCHIVE"));
}

}  // namespace
}  // namespace pacs
