#include "storage/dicom_attributes.h"

#include "storage/model/log.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcostrmb.h>

#include <algorithm>
#include <iterator>
#include <span>
#include <string_view>
#include <vector>

namespace pacs {
namespace {

// Attributes kept at the patient, study and series levels (PS3.4 C.6 keys and the modules the
// levels describe). Everything else, and these too, is kept at the instance level.
const DcmTagKey kPatientTags[] = {
    DCM_SpecificCharacterSet,
    DCM_PatientName,
    DCM_PatientID,
    DCM_IssuerOfPatientID,
    DCM_IssuerOfPatientIDQualifiersSequence,
    DCM_PatientBirthDate,
    DCM_PatientBirthTime,
    DCM_PatientSex,
    DCM_OtherPatientIDsSequence,
    DCM_OtherPatientNames,
    DCM_EthnicGroup,
    DCM_PatientComments,
    DCM_PatientSpeciesDescription,
    DCM_ResponsiblePerson,
};
const DcmTagKey kStudyTags[] = {
    DCM_SpecificCharacterSet,
    DCM_StudyDate,
    DCM_StudyTime,
    DCM_AccessionNumber,
    DCM_IssuerOfAccessionNumberSequence,
    DCM_ReferringPhysicianName,
    DCM_StudyDescription,
    DCM_ProcedureCodeSequence,
    DCM_NameOfPhysiciansReadingStudy,
    DCM_AdmittingDiagnosesDescription,
    DCM_StudyInstanceUID,
    DCM_StudyID,
    DCM_PatientAge,
    DCM_PatientSize,
    DCM_PatientWeight,
    DCM_AdditionalPatientHistory,
    DCM_TimezoneOffsetFromUTC,
    DCM_RequestingPhysician,
    DCM_RequestedProcedureDescription,
    DCM_ReferencedStudySequence,
};
const DcmTagKey kSeriesTags[] = {
    DCM_SpecificCharacterSet,
    DCM_SeriesDate,
    DCM_SeriesTime,
    DCM_Modality,
    DCM_SeriesDescription,
    DCM_PerformingPhysicianName,
    DCM_OperatorsName,
    DCM_BodyPartExamined,
    DCM_ProtocolName,
    DCM_SeriesInstanceUID,
    DCM_SeriesNumber,
    DCM_Laterality,
    DCM_PerformedProcedureStepStartDate,
    DCM_PerformedProcedureStepStartTime,
    DCM_PerformedProcedureStepID,
    DCM_RequestAttributesSequence,
    DCM_Manufacturer,
    DCM_InstitutionName,
    DCM_StationName,
    DCM_ManufacturerModelName,
    DCM_FrameOfReferenceUID,
};

// Binary values above this size are bulk data: fetched from the file when asked for, not indexed.
constexpr Uint32 kMaxInlineBinary = 1024;

// PostgreSQL text must be UTF-8, and DICOM JSON is UTF-8: the index keeps every string in UTF-8.
// Bytes that are not valid UTF-8 (an unknown or lying Specific Character Set) become '?'.
std::string valid_utf8(std::string s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t length = c < 0x80           ? 1
                               : (c >> 5) == 0x6  ? 2
                               : (c >> 4) == 0xe  ? 3
                               : (c >> 3) == 0x1e ? 4
                                                  : 0;
    bool ok = length > 0 && i + length <= s.size();
    for (std::size_t k = 1; ok && k < length; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (ok) {
      i += length;
    } else {
      s[i++] = '?';
    }
  }
  return s;
}

std::string value_of(DcmDataset& ds, const DcmTagKey& tag) {
  OFString value;
  if (ds.findAndGetOFStringArray(tag, value).bad()) return {};
  return valid_utf8(std::string(value.c_str(), value.length()));
}

Result<Uid> required_uid(DcmDataset& ds, const DcmTagKey& tag, const char* name) {
  const std::string text = value_of(ds, tag);
  if (text.empty()) return fail(ErrorCode::InvalidObject, std::string("missing ") + name);
  auto uid = Uid::parse(text);
  if (!uid)
    return fail(ErrorCode::InvalidObject,
                std::string("malformed ") + name + ": " + uid.error().message);
  return uid;
}

bool is_bulk(DcmElement& element) {
  if (element.ident() == EVR_SQ) return false;
  switch (element.getVR()) {
    case EVR_OB:
    case EVR_OW:
    case EVR_OF:
    case EVR_OD:
    case EVR_OL:
    case EVR_OV:
    case EVR_UN:
    case EVR_ox:
    case EVR_px:
    case EVR_pixelSQ:
      return element.getLength() > kMaxInlineBinary;
    default:
      return element.getLength() > 65536;
  }
}

std::string level_attributes(DcmDataset& ds, std::span<const DcmTagKey> tags) {
  DcmDataset level;
  for (const DcmTagKey& tag : tags) {
    DcmElement* element = nullptr;
    if (ds.findAndGetElement(tag, element).good() && element)
      level.insert(OFstatic_cast(DcmElement*, element->clone()));
  }
  return encode_attributes(level);
}

std::string instance_attributes(DcmDataset& ds) {
  DcmDataset copy;
  for (unsigned long i = 0; i < ds.card(); ++i) {
    DcmElement* element = ds.getElement(i);
    if (element->getTag() == DCM_PixelData || is_bulk(*element) ||
        element->getTag() == DCM_IconImageSequence)
      continue;
    copy.insert(OFstatic_cast(DcmElement*, element->clone()));
  }
  return encode_attributes(copy);
}

}  // namespace

std::span<const DcmTagKey> level_tags(Level level) {
  switch (level) {
    case Level::Patient:
      return kPatientTags;
    case Level::Study:
      return kStudyTags;
    case Level::Series:
      return kSeriesTags;
    case Level::Instance:
    case Level::Worklist:
      break;
  }
  return {};
}

bool kept_at_level(const DcmTagKey& tag, Level level) {
  auto in = [&tag](std::span<const DcmTagKey> tags) {
    return std::find(tags.begin(), tags.end(), tag) != tags.end();
  };
  switch (level) {
    case Level::Instance:
    case Level::Worklist:  // a worklist item is kept whole
      return true;
    case Level::Series:
      if (in(kSeriesTags)) return true;
      [[fallthrough]];
    case Level::Study:
      if (in(kStudyTags)) return true;
      [[fallthrough]];
    case Level::Patient:
      return in(kPatientTags);
  }
  return false;
}

std::string normalized_person_name(const std::string& name) {
  std::vector<std::string> groups(1);
  for (char ch : name) {
    if (ch == '=')
      groups.emplace_back();
    else
      groups.back().push_back(ch);
  }
  std::string out;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::string& group = groups[g];
    while (!group.empty() && (group.back() == '^' || group.back() == ' ')) group.pop_back();
    out += (g ? "=" : "") + group;
  }
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string encode_attributes(DcmDataset& attributes) {
  const E_TransferSyntax xfer = EXS_LittleEndianExplicit;
  const Uint32 length = attributes.calcElementLength(xfer, EET_ExplicitLength);
  std::string buffer(length + 64, '\0');
  DcmOutputBufferStream out(buffer.data(), static_cast<offile_off_t>(buffer.size()));
  attributes.transferInit();
  attributes.write(out, xfer, EET_ExplicitLength, nullptr);
  attributes.transferEnd();
  void* data = nullptr;
  offile_off_t written = 0;
  out.flushBuffer(data, written);
  buffer.resize(static_cast<std::size_t>(written));
  return buffer;
}

Result<void> decode_attributes(const std::string& bytes, DcmDataset& out) {
  DcmInputBufferStream in;
  in.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  in.setEos();
  out.transferInit();
  const OFCondition c = out.read(in, EXS_LittleEndianExplicit);
  out.transferEnd();
  if (c.bad())
    return fail(ErrorCode::InvalidObject, std::string("stored attributes unreadable: ") + c.text());
  return {};
}

namespace {

std::uint16_t le16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}
std::uint32_t le32(const unsigned char* p) {
  return p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// PS3.5 7.1.2: explicit VR elements with these VRs have a 4-byte length after 2 reserved bytes.
bool has_long_length(const unsigned char* vr) {
  static constexpr std::string_view kLong[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                               "SV", "UC", "UN", "UR", "UT", "UV"};
  const std::string_view text(reinterpret_cast<const char*>(vr), 2);
  return std::find(std::begin(kLong), std::end(kLong), text) != std::end(kLong);
}

}  // namespace

Result<void> decode_attributes(const std::string& bytes, DcmDataset& out,
                               std::span<const DcmTagKey> wanted) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  std::string selected;
  std::size_t at = 0;
  // Bounded by the size: every pass advances past one element or stops.
  while (at + 8 <= bytes.size()) {
    const DcmTagKey tag(le16(data + at), le16(data + at + 2));
    std::size_t header = 8;
    std::uint32_t length = le16(data + at + 6);
    if (has_long_length(data + at + 4)) {
      if (at + 12 > bytes.size()) break;
      header = 12;
      length = le32(data + at + 8);
    }
    // encode_attributes writes explicit lengths only; anything else is read the slow way.
    if (length == 0xffffffffu || at + header + length > bytes.size())
      return decode_attributes(bytes, out);
    if (std::binary_search(wanted.begin(), wanted.end(), tag))
      selected.append(bytes, at, header + length);
    at += header + length;
  }
  if (at != bytes.size()) return decode_attributes(bytes, out);
  return selected.empty() ? Result<void>{} : decode_attributes(selected, out);
}

namespace {

// An encoded attribute set as `edit` leaves it; one that does not decode is returned as it is.
template <typename Edit>
std::string edited(const std::string& encoded, Edit edit) {
  DcmDataset ds;
  if (!encoded.empty() && !decode_attributes(encoded, ds)) return encoded;
  edit(ds);
  return encode_attributes(ds);
}

}  // namespace

std::string with_patient_values(const std::string& encoded, const PatientValues& values) {
  return edited(encoded, [&](DcmDataset& ds) {
    bool non_ascii = false;
    const std::pair<const std::optional<std::string>*, DcmTagKey> fields[] = {
        {&values.patient_id, DCM_PatientID},
        {&values.issuer_of_patient_id, DCM_IssuerOfPatientID},
        {&values.name, DCM_PatientName},
        {&values.birth_date, DCM_PatientBirthDate},
        {&values.sex, DCM_PatientSex}};
    for (const auto& [value, tag] : fields) {
      if (!*value) continue;
      ds.putAndInsertString(tag, (*value)->c_str());
      non_ascii = non_ascii || std::any_of((*value)->begin(), (*value)->end(), [](char ch) {
                    return static_cast<unsigned char>(ch) > 0x7f;
                  });
    }
    // Stored text is UTF-8 (index_entry_from converts it); say so once it is not plain ASCII.
    if (non_ascii) ds.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
  });
}

std::string with_study_uid(const std::string& encoded, const std::string& study_uid) {
  return edited(encoded, [&](DcmDataset& ds) {
    ds.putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
  });
}

Result<IndexEntry> index_entry_from(DcmDataset& ds, const std::string& transfer_syntax) {
  // Converts the in-memory header only; the stored file keeps the bytes that arrived.
  if (OFCondition c = ds.convertToUTF8(); c.bad())
    PACS_LOG(Warn) << "cannot convert the character set of an object to UTF-8 (" << c.text()
                   << "): non-ASCII text is indexed with '?'";

  auto study = required_uid(ds, DCM_StudyInstanceUID, "Study Instance UID");
  if (!study) return tl::unexpected(study.error());
  auto series = required_uid(ds, DCM_SeriesInstanceUID, "Series Instance UID");
  if (!series) return tl::unexpected(series.error());
  auto sop = required_uid(ds, DCM_SOPInstanceUID, "SOP Instance UID");
  if (!sop) return tl::unexpected(sop.error());
  auto sop_class = required_uid(ds, DCM_SOPClassUID, "SOP Class UID");
  if (!sop_class) return tl::unexpected(sop_class.error());

  return IndexEntry{
      PatientRecord{value_of(ds, DCM_PatientID), value_of(ds, DCM_IssuerOfPatientID),
                    normalized_person_name(value_of(ds, DCM_PatientName)),
                    value_of(ds, DCM_PatientBirthDate), value_of(ds, DCM_PatientSex),
                    level_attributes(ds, kPatientTags)},
      StudyRecord{*study, value_of(ds, DCM_StudyDate), value_of(ds, DCM_StudyTime),
                  value_of(ds, DCM_AccessionNumber), value_of(ds, DCM_StudyID),
                  normalized_person_name(value_of(ds, DCM_ReferringPhysicianName)),
                  value_of(ds, DCM_StudyDescription), level_attributes(ds, kStudyTags)},
      SeriesRecord{*series, value_of(ds, DCM_Modality), value_of(ds, DCM_SeriesNumber),
                   value_of(ds, DCM_SeriesDescription), level_attributes(ds, kSeriesTags)},
      InstanceRecord{*sop,
                     *sop_class,
                     value_of(ds, DCM_InstanceNumber),
                     transfer_syntax,
                     {},
                     0,
                     {},
                     instance_attributes(ds)},
  };
}

std::string attribute_text(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  item.findAndGetOFStringArray(tag, value, OFFalse);
  return value.c_str();
}

}  // namespace pacs
