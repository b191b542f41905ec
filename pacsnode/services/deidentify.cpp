#include "pacsnode/services/deidentify.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvr.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <vector>

#include "pacsnode/services/text.h"
#include "security/encoding.h"
#include "security/secrets.h"
#include "storage/dicom_attributes.h"
#include "storage/model/log.h"

namespace pacs::deid {
namespace {

// Nesting deeper than this is refused rather than followed (a crafted object could nest without
// end); real objects stay far below it.
constexpr int kMaxDepth = 32;

bool is_overlay_or_curve(Uint16 group) {
  const bool even = (group & 1) == 0;
  return even && ((group >= 0x5000 && group <= 0x50FF) || (group >= 0x6000 && group <= 0x60FF));
}

// The decimal digits of a big-endian unsigned number.
std::string decimal(std::array<unsigned char, 16> bytes) {
  std::string digits;
  // Bounded: each pass divides the number by ten; 128 bits have at most 39 digits.
  for (int guard = 0; guard < 40; ++guard) {
    unsigned remainder = 0;
    bool zero = true;
    for (unsigned char& b : bytes) {
      const unsigned value = remainder * 256 + b;
      b = static_cast<unsigned char>(value / 10);
      remainder = value % 10;
      zero = zero && b == 0;
    }
    digits.push_back(static_cast<char>('0' + remainder));
    if (zero) break;
  }
  std::reverse(digits.begin(), digits.end());
  return digits;
}

// Binary numbers: a dummy for them is written as text ("0") and parsed by DCMTK.
bool is_numeric(DcmEVR vr) {
  switch (vr) {
    case EVR_US:
    case EVR_SS:
    case EVR_UL:
    case EVR_SL:
    case EVR_FL:
    case EVR_FD:
    case EVR_UV:
    case EVR_SV:
      return true;
    default:
      return false;
  }
}

// A dummy value of the VR for D: recognisably not real, valid for the VR.
std::string dummy_for(DcmEVR vr) {
  if (is_numeric(vr)) return "0";
  switch (vr) {
    case EVR_DA:
      return "19000101";
    case EVR_TM:
      return "000000";
    case EVR_DT:
      return "19000101000000";
    case EVR_AS:
      return "000Y";
    case EVR_DS:
    case EVR_IS:
      return "0";
    case EVR_UR:
      return "urn:anonymized";
    default:
      return "ANONYMIZED";
  }
}

bool is_text(DcmEVR vr) {
  switch (vr) {
    case EVR_LO:
    case EVR_LT:
    case EVR_SH:
    case EVR_ST:
    case EVR_UT:
    case EVR_UC:
    case EVR_PN:
      return true;
    default:
      return false;
  }
}

// The text with every identifier in it replaced by asterisks, matched without regard to case.
std::string scrubbed(std::string text, const std::vector<std::string>& identifiers) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string id : identifiers) {
    std::transform(id.begin(), id.end(), id.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    // Bounded: each pass moves past one occurrence.
    for (auto at = lower.find(id); at != std::string::npos; at = lower.find(id, at + id.size())) {
      text.replace(at, id.size(), std::string(id.size(), '*'));
      lower.replace(at, id.size(), std::string(id.size(), '*'));
    }
  }
  return text;
}

// The identifiers of the object's patient, as Clean Descriptors takes them out of free text:
// the name's components, the IDs, the birth date and the accession number.
std::vector<std::string> identifiers_of(DcmItem& top) {
  std::vector<std::string> out;
  for (const std::string& component : split(attribute_text(top, DCM_PatientName), '^'))
    for (const std::string& part : split(component, '='))
      for (const std::string& word : split(part, ' '))
        if (word.size() >= 2) out.push_back(word);
  for (const DcmTagKey& tag : {DCM_PatientID, DCM_PatientBirthDate, DCM_AccessionNumber,
                               DCM_RETIRED_OtherPatientIDs, DCM_RETIRED_MedicalRecordLocator})
    for (const std::string& value : split(attribute_text(top, tag), '\\'))
      if (value.size() >= 2) out.push_back(value);
  // Longer first, so that a name is not half taken out by a shorter identifier inside it.
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

class Run {
 public:
  Run(const Deidentifier& deidentifier, const Options& options, DcmItem& top)
      : deidentifier_(deidentifier), options_(options), identifiers_(identifiers_of(top)) {
    top_patient_ = patient_of(top, nullptr);
  }

  Result<void> item(DcmItem& item, int depth) {
    if (depth > kMaxDepth)
      return fail(ErrorCode::InvalidObject,
                  "sequences nest deeper than " + std::to_string(kMaxDepth) + " levels");
    // This item's patient (an item may name another patient than the object's: e.g. the source
    // of a registration); else the object's.
    const Pseudonym patient = patient_of(item, &top_patient_);
    // Backwards, so that removing an element keeps the indexes of those still to do.
    for (unsigned long i = item.card(); i-- > 0;) {
      DcmElement* element = item.getElement(i);
      if (element == nullptr) continue;
      const DcmTagKey key = element->getTag();
      const DcmEVR vr = element->ident();
      const Action action = action_for(key, options_);
      if (action == Action::Remove) {
        delete item.remove(i);
        continue;
      }
      if (vr == EVR_SQ) {
        auto* sequence = static_cast<DcmSequenceOfItems*>(element);
        if (action == Action::Zero) {
          sequence->clear();
          continue;
        }
        // Keep, Dummy, Clean: the items stay, de-identified themselves (K "cleaned for
        // sequences"; a dummy sequence would carry nothing).
        for (unsigned long n = 0; n < sequence->card(); ++n)
          if (auto ok = this->item(*sequence->getItem(n), depth + 1); !ok) return ok;
        continue;
      }
      if (auto ok = attribute(*element, key, vr, action, patient); !ok) return ok;
    }
    return {};
  }

 private:
  Pseudonym patient_of(DcmItem& item, const Pseudonym* fallback) const {
    const std::string id = attribute_text(item, DCM_PatientID);
    if (!id.empty())
      return deidentifier_.pseudonym(id, attribute_text(item, DCM_IssuerOfPatientID));
    const std::string name = attribute_text(item, DCM_PatientName);
    if (fallback != nullptr && name.empty()) return *fallback;
    // No ID: the name and birth date stand for the patient (an empty object all alike).
    return deidentifier_.pseudonym(
        "name=" + name + "|birth=" + attribute_text(item, DCM_PatientBirthDate), "");
  }

  Result<void> attribute(DcmElement& element, const DcmTagKey& key, DcmEVR vr, Action action,
                         const Pseudonym& patient) {
    // The patient's name and ID become the pseudonym (Z and D both allow a dummy value).
    if (key == DCM_PatientID && (action == Action::Zero || action == Action::Dummy))
      return put(element, patient.patient_id);
    if (key == DCM_PatientName && (action == Action::Zero || action == Action::Dummy))
      return put(element, patient.patient_name);
    switch (action) {
      case Action::Keep:
      case Action::Remove:  // handled by the caller
        return {};
      case Action::Zero:
        element.clear();
        return {};
      case Action::Dummy:
        if (vr == EVR_UI) return replace_uids(element);
        if (!DcmVR(vr).isaString() && !is_numeric(vr)) {
          element.clear();  // binary values (OB, OW, ...) have no meaningful dummy
          return {};
        }
        return put(element, dummy_for(vr));
      case Action::Clean: {
        if (!is_text(vr)) return {};
        OFString text;
        element.getOFStringArray(text);
        return put(element, scrubbed(text.c_str(), identifiers_));
      }
      case Action::ReplaceUid:
        return vr == EVR_UI ? replace_uids(element) : Result<void>{};
    }
    return {};
  }

  Result<void> replace_uids(DcmElement& element) {
    OFString values;
    element.getOFStringArray(values);
    std::string out;
    for (const std::string& uid : split(values.c_str(), '\\'))
      out += (out.empty() ? "" : "\\") + (uid.empty() ? uid : deidentifier_.uid(uid));
    return put(element, out);
  }

  static Result<void> put(DcmElement& element, const std::string& value) {
    const OFCondition c = element.putString(value.c_str());
    if (c.bad())
      return fail(ErrorCode::InvalidObject,
                  "cannot replace " + element.getTag().toString() + ": " + c.text());
    return {};
  }

  const Deidentifier& deidentifier_;
  const Options& options_;
  std::vector<std::string> identifiers_;
  Pseudonym top_patient_;
};

// PS3.15 E.1.1: what was done, in the object (PS3.3 C.7.1.1: Patient Identity Removed and the
// method, as text and as CID 7050 codes).
Result<void> record_method(DcmDataset& dataset, const Options& options) {
  struct Used {
    bool on;
    const char *code, *meaning, *text;
  };
  const Used used[] = {
      {true, "113100", "Basic Application Confidentiality Profile", "Basic Profile"},
      {options.clean_descriptors, "113105", "Clean Descriptors Option", "Clean Descriptors Option"},
      {options.retain_dates, "113107", "Retain Longitudinal Temporal Information Full Dates Option",
       "Retain Full Dates Option"},
      {options.retain_uids, "113110", "Retain UIDs Option", "Retain UIDs Option"},
  };
  std::string method;
  OFCondition c = dataset.putAndInsertString(DCM_PatientIdentityRemoved, "YES");
  dataset.findAndDeleteElement(DCM_DeidentificationMethodCodeSequence);
  for (const Used& u : used) {
    if (!u.on) continue;
    method += (method.empty() ? "" : "\\") + std::string(u.text);
    DcmItem* code = nullptr;
    if (c.good())
      c = dataset.findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, code, -2);
    if (c.good()) c = code->putAndInsertString(DCM_CodeValue, u.code);
    if (c.good()) c = code->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
    if (c.good()) c = code->putAndInsertString(DCM_CodeMeaning, u.meaning);
  }
  if (c.good()) c = dataset.putAndInsertString(DCM_DeidentificationMethod, method.c_str());
  // PS3.3 C.7.6.1.1.1: whether the dates still tell when things happened.
  if (c.good())
    c = dataset.putAndInsertString(DCM_LongitudinalTemporalInformationModified,
                                   options.retain_dates ? "UNMODIFIED" : "REMOVED");
  if (c.bad())
    return fail(ErrorCode::InvalidObject,
                std::string("cannot record the de-identification: ") + c.text());
  return {};
}

}  // namespace

Result<Options> parse_options(std::string_view text) {
  Options options;
  const std::vector<std::string> names = split(text, '+');
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (name == "basic" && i == 0) continue;
    if (name == "retain-uids")
      options.retain_uids = true;
    else if (name == "retain-dates")
      options.retain_dates = true;
    else if (name == "clean-descriptors")
      options.clean_descriptors = true;
    else if (name == "allow-burned-in")
      options.allow_burned_in = true;
    else
      return fail(ErrorCode::InvalidArgument,
                  "de-identification '" + std::string(text) + "': unknown option '" + name +
                      "' (basic, retain-uids, retain-dates, clean-descriptors, allow-burned-in)");
  }
  return options;
}

std::string to_string(const Options& options) {
  std::string out = "basic";
  if (options.retain_uids) out += "+retain-uids";
  if (options.retain_dates) out += "+retain-dates";
  if (options.clean_descriptors) out += "+clean-descriptors";
  if (options.allow_burned_in) out += "+allow-burned-in";
  return out;
}

const ProfileRow* profile_row(const DcmTagKey& tag) {
  // Built once: the table is sorted by tag, but a map keeps that from being a silent assumption.
  static const std::map<DcmTagKey, const ProfileRow*> rows = [] {
    std::map<DcmTagKey, const ProfileRow*> out;
    for (const ProfileRow& row : profile_table()) out[DcmTagKey(row.group, row.element)] = &row;
    return out;
  }();
  const auto found = rows.find(tag);
  return found == rows.end() ? nullptr : found->second;
}

Action action_for(const DcmTagKey& tag, const Options& options) {
  if (tag.isPrivate() || is_overlay_or_curve(tag.getGroup())) return Action::Remove;
  const ProfileRow* row = profile_row(tag);
  if (row == nullptr) return Action::Keep;
  char option = 0;
  for (const auto& [on, code] : {std::pair{options.retain_uids, row->retain_uids},
                                 std::pair{options.retain_dates, row->retain_dates},
                                 std::pair{options.clean_descriptors, row->clean_descriptors}})
    if (on && code != 0 && (option == 0 || code == 'K')) option = code;
  if (option == 'K') return Action::Keep;
  if (option == 'C') return Action::Clean;
  const std::string_view basic = row->basic;
  if (basic == "X") return Action::Remove;
  if (basic == "Z" || basic == "X/Z") return Action::Zero;
  if (basic == "D" || basic == "X/D" || basic == "Z/D" || basic == "X/Z/D") return Action::Dummy;
  if (basic == "U") return Action::ReplaceUid;
  if (basic == "K" || basic == "X/Z/U*") return Action::Keep;
  if (basic == "C") return Action::Clean;
  return Action::Remove;  // a code this table does not use: the safe side
}

Result<Deidentifier> Deidentifier::open(const std::filesystem::path& data_dir) {
  auto key = security::load_or_create_key(data_dir / "deidentify.key");
  if (!key) return tl::unexpected(key.error());
  return Deidentifier(std::move(*key));
}

std::string Deidentifier::uid(std::string_view original) const {
  const std::string mac = security::hmac_sha256(key_, "uid\n" + std::string(original));
  std::array<unsigned char, 16> uuid{};
  std::copy_n(reinterpret_cast<const unsigned char*>(mac.data()), uuid.size(), uuid.begin());
  uuid[6] = static_cast<unsigned char>((uuid[6] & 0x0f) | 0x80);  // version 8: custom
  uuid[8] = static_cast<unsigned char>((uuid[8] & 0x3f) | 0x80);  // variant 10
  return "2.25." + decimal(uuid);
}

Pseudonym Deidentifier::pseudonym(std::string_view patient_id, std::string_view issuer) const {
  // The issuer is part of who the patient is: the same ID from two issuers is two patients.
  const std::string mac = security::hmac_sha256(
      key_, "patient\n" + std::string(patient_id) + "\n" + std::string(issuer));
  std::string token = security::hex_encode(mac.substr(0, 8));
  std::transform(token.begin(), token.end(), token.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return {"ANON" + token, "ANONYMOUS^" + token};
}

std::optional<std::string> Deidentifier::refusal(DcmDataset& dataset) {
  const std::string burned_in = attribute_text(dataset, DCM_BurnedInAnnotation);
  if (burned_in == "YES")
    return "Burned In Annotation (0028,0301) is YES: its pixels show text that may identify the "
           "patient, and pixel data is not masked";
  if (attribute_text(dataset, DCM_RecognizableVisualFeatures) == "YES")
    return "Recognizable Visual Features (0028,0302) is YES: its pixels may show the patient";
  const std::string sop_class = attribute_text(dataset, DCM_SOPClassUID);
  // Screenshots, scanned documents and ultrasound carry burned-in names and dates more often
  // than not; only an explicit NO lets them through.
  static const char* const kUsuallyBurnedIn[] = {
      UID_SecondaryCaptureImageStorage,
      UID_MultiframeSingleBitSecondaryCaptureImageStorage,
      UID_MultiframeGrayscaleByteSecondaryCaptureImageStorage,
      UID_MultiframeGrayscaleWordSecondaryCaptureImageStorage,
      UID_MultiframeTrueColorSecondaryCaptureImageStorage,
      UID_UltrasoundImageStorage,
      UID_UltrasoundMultiframeImageStorage,
      UID_RETIRED_UltrasoundImageStorage,
      UID_RETIRED_UltrasoundMultiframeImageStorage,
  };
  for (const char* uid : kUsuallyBurnedIn)
    if (sop_class == uid && burned_in != "NO")
      return "SOP class " + sop_class + " (" + dcmFindNameOfUID(uid, "?") +
             ") commonly shows identifying text in its pixels and Burned In Annotation "
             "(0028,0301) does not say NO";
  for (const char* uid :
       {UID_EncapsulatedPDFStorage, UID_EncapsulatedCDAStorage, UID_EncapsulatedSTLStorage})
    if (sop_class == uid)
      return "an encapsulated document (" + std::string(dcmFindNameOfUID(uid, "?")) +
             ") cannot be de-identified: its content is not DICOM attributes";
  return std::nullopt;
}

Result<void> Deidentifier::apply(DcmFileFormat& file, const Options& options) const {
  DcmDataset& dataset = *file.getDataset();
  const std::string sop = attribute_text(dataset, DCM_SOPInstanceUID);
  if (auto why = refusal(dataset)) {
    if (!options.allow_burned_in) return fail(ErrorCode::InvalidObject, *why);
    PACS_LOG(Warn) << "de-identifying " << sop << " although " << *why
                   << " (allow-burned-in is set)";
  }
  Run run(*this, options, dataset);
  if (auto ok = run.item(dataset, 0); !ok) return ok;
  if (auto ok = record_method(dataset, options); !ok) return ok;
  // The meta header names the instance and where it came from: the new UID, no sender.
  DcmMetaInfo& meta = *file.getMetaInfo();
  for (const DcmTagKey& tag : {DCM_SourceApplicationEntityTitle, DCM_SendingApplicationEntityTitle,
                               DCM_ReceivingApplicationEntityTitle,
                               DCM_PrivateInformationCreatorUID, DCM_PrivateInformation})
    meta.findAndDeleteElement(tag);
  if (meta.tagExists(DCM_MediaStorageSOPInstanceUID)) {
    const std::string now = attribute_text(dataset, DCM_SOPInstanceUID);
    if (meta.putAndInsertString(DCM_MediaStorageSOPInstanceUID, now.c_str()).bad())
      return fail(ErrorCode::InvalidObject, "cannot update the meta header");
  }
  return {};
}

}  // namespace pacs::deid
