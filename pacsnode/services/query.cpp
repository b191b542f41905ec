#include "pacsnode/services/query.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvrpn.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "pacsnode/services/text.h"
#include "pacsnode/services/wildcard.h"
#include "storage/dicom_attributes.h"
#include "storage/model/log.h"

namespace pacs {
namespace {

struct IndexedKey {
  DcmTagKey tag;
  Column column;
};

// The keys the index has a column for (PS3.4 C.6 required and unique keys, and a few more).
const IndexedKey kIndexedKeys[] = {
    {DCM_PatientID, Column::PatientId},
    {DCM_IssuerOfPatientID, Column::IssuerOfPatientId},
    {DCM_PatientName, Column::PatientName},
    {DCM_PatientBirthDate, Column::PatientBirthDate},
    {DCM_PatientSex, Column::PatientSex},
    {DCM_StudyInstanceUID, Column::StudyUid},
    {DCM_StudyDate, Column::StudyDate},
    {DCM_StudyTime, Column::StudyTime},
    {DCM_AccessionNumber, Column::AccessionNumber},
    {DCM_StudyID, Column::StudyId},
    {DCM_ReferringPhysicianName, Column::ReferringPhysician},
    {DCM_StudyDescription, Column::StudyDescription},
    {DCM_ModalitiesInStudy, Column::ModalitiesInStudy},
    {DCM_SeriesInstanceUID, Column::SeriesUid},
    {DCM_Modality, Column::Modality},
    {DCM_SeriesNumber, Column::SeriesNumber},
    {DCM_SeriesDescription, Column::SeriesDescription},
    {DCM_SOPInstanceUID, Column::SopInstanceUid},
    {DCM_SOPClassUID, Column::SopClassUid},
    {DCM_InstanceNumber, Column::InstanceNumber},
};

std::optional<Column> column_for(const DcmTagKey& tag) {
  for (const auto& k : kIndexedKeys)
    if (k.tag == tag) return k.column;
  return std::nullopt;
}

// The worklist keys the index has a column for: at the top level of the identifier, and in the
// item of the Scheduled Procedure Step Sequence.
const IndexedKey kWorklistKeys[] = {
    {DCM_PatientID, Column::PatientId},
    {DCM_IssuerOfPatientID, Column::IssuerOfPatientId},
    {DCM_PatientName, Column::PatientName},
    {DCM_AccessionNumber, Column::AccessionNumber},
    {DCM_StudyInstanceUID, Column::StudyUid},
    {DCM_RequestedProcedureID, Column::RequestedProcedureId},
};
const IndexedKey kScheduledStepKeys[] = {
    {DCM_ScheduledStationAETitle, Column::ScheduledStationAet},
    {DCM_Modality, Column::ScheduledModality},
    {DCM_ScheduledProcedureStepStartDate, Column::ScheduledStartDate},
    {DCM_ScheduledProcedureStepStartTime, Column::ScheduledStartTime},
    {DCM_ScheduledProcedureStepID, Column::ScheduledStepId},
    {DCM_ScheduledProcedureStepStatus, Column::ScheduledStepStatus},
};

template <std::size_t N>
std::optional<Column> column_in(const IndexedKey (&keys)[N], const DcmTagKey& tag) {
  for (const auto& k : keys)
    if (k.tag == tag) return k.column;
  return std::nullopt;
}

// Keys that are not stored but computed from the index (PS3.4 C.3.4), with the level they need.
bool is_computed(const DcmTagKey& tag) {
  return tag == DCM_NumberOfPatientRelatedStudies || tag == DCM_NumberOfPatientRelatedSeries ||
         tag == DCM_NumberOfPatientRelatedInstances || tag == DCM_NumberOfStudyRelatedSeries ||
         tag == DCM_NumberOfStudyRelatedInstances || tag == DCM_NumberOfSeriesRelatedInstances ||
         tag == DCM_ModalitiesInStudy || tag == DCM_SOPClassesInStudy ||
         tag == DCM_RetrieveAETitle || tag == DCM_InstanceAvailability;
}

bool wildcard_vr(DcmEVR vr) {
  switch (vr) {
    case EVR_AE:
    case EVR_CS:
    case EVR_LO:
    case EVR_LT:
    case EVR_PN:
    case EVR_SH:
    case EVR_ST:
    case EVR_UC:
    case EVR_UR:
    case EVR_UT:
      return true;
    default:
      return false;
  }
}

// How one key value matches (PS3.4 C.2.2.2); nullopt for universal matching.
std::optional<std::pair<Condition::Kind, std::vector<std::string>>> matching_for(
    DcmEVR vr, std::string value) {
  value = trim(value);
  if (value.empty() || value == "*") return std::nullopt;
  using Kind = Condition::Kind;
  if (vr == EVR_UI) {
    auto uids = split(value, '\\');
    for (auto& u : uids) u = trim(u);
    if (uids.size() == 1) return std::make_pair(Kind::Equals, uids);
    return std::make_pair(Kind::AnyOf, uids);
  }
  if (vr == EVR_DA || vr == EVR_TM || vr == EVR_DT) {
    if (const auto dash = value.find('-'); dash != std::string::npos)
      return std::make_pair(Kind::Range, std::vector<std::string>{trim(value.substr(0, dash)),
                                                                  trim(value.substr(dash + 1))});
    return std::make_pair(Kind::Equals, std::vector<std::string>{value});
  }
  if (vr == EVR_PN) value = normalized_person_name(value);
  if (wildcard_vr(vr) && value.find_first_of("*?") != std::string::npos)
    return std::make_pair(Kind::Wildcard, std::vector<std::string>{value});
  // Several values of a multi-valued key: any of them (what archives do in practice; the AND of
  // PS3.4 C.2.2.2.8 needs extended negotiation that we do not offer).
  if (value.find('\\') != std::string::npos) {
    auto values = split(value, '\\');
    for (auto& v : values) v = trim(v);
    return std::make_pair(Kind::AnyOf, values);
  }
  return std::make_pair(Kind::Equals, std::vector<std::string>{value});
}

std::string upper(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

bool value_matches(const AttributeCondition& c, std::string value) {
  value = trim(value);
  if (value.empty()) return false;  // an unknown value never matches a non-universal key
  if (c.person_name) value = upper(normalized_person_name(value));
  auto same = [&](std::string want) { return (c.person_name ? upper(want) : want) == value; };
  switch (c.kind) {
    case Condition::Kind::Equals:
      return same(c.values[0]);
    case Condition::Kind::AnyOf:
      return std::any_of(c.values.begin(), c.values.end(), same);
    case Condition::Kind::Wildcard: {
      const std::string pattern = c.person_name ? upper(c.values[0]) : c.values[0];
      return wildcard_match(pattern, value);
    }
    case Condition::Kind::Range:
      return (c.values[0].empty() || value >= c.values[0]) &&
             (c.values.size() < 2 || c.values[1].empty() || value <= c.values[1] ||
              value.rfind(c.values[1], 0) == 0);
  }
  return false;
}

// A sequence key's condition (PS3.4 C.2.2.2.6), or nullopt when it matches universally: no item,
// or an item whose keys are all universal.
std::optional<AttributeCondition> sequence_condition(DcmSequenceOfItems& sequence) {
  if (sequence.card() == 0) return std::nullopt;
  DcmItem* item = sequence.getItem(0);
  AttributeCondition out{sequence.getTag(), Condition::Kind::Equals, {}, false, true, {}};
  for (unsigned long i = 0; i < item->card(); ++i) {
    DcmElement* element = item->getElement(i);
    if (element->ident() == EVR_SQ) {
      if (auto nested = sequence_condition(*static_cast<DcmSequenceOfItems*>(element)))
        out.item_conditions.push_back(std::move(*nested));
      continue;
    }
    OFString value;
    element->getOFStringArray(value);
    if (auto matching = matching_for(element->ident(), value.c_str()))
      out.item_conditions.push_back({element->getTag(),
                                     matching->first,
                                     matching->second,
                                     element->ident() == EVR_PN,
                                     false,
                                     {}});
  }
  if (out.item_conditions.empty()) return std::nullopt;
  return out;
}

bool element_matches(const AttributeCondition& c, DcmElement& stored);

bool item_matches(const std::vector<AttributeCondition>& conditions, DcmItem& item) {
  return std::all_of(conditions.begin(), conditions.end(), [&](const AttributeCondition& c) {
    DcmElement* element = nullptr;
    return item.findAndGetElement(c.tag, element).good() && element && element_matches(c, *element);
  });
}

bool element_matches(const AttributeCondition& c, DcmElement& stored) {
  if (c.sequence) {
    if (stored.ident() != EVR_SQ) return false;
    auto& sequence = static_cast<DcmSequenceOfItems&>(stored);
    for (unsigned long i = 0; i < sequence.card(); ++i)
      if (item_matches(c.item_conditions, *sequence.getItem(i))) return true;
    return false;
  }
  OFString value;
  return stored.getOFStringArray(value).good() && value_matches(c, value.c_str());
}

const AttributeCondition* sequence_condition_for(const std::vector<AttributeCondition>& conditions,
                                                 const DcmTagKey& tag) {
  for (const auto& c : conditions)
    if (c.sequence && c.tag == tag) return &c;
  return nullptr;
}

// A stored sequence as answered: only the items that match (when there is a condition), each with
// only the requested sub-attributes (when the request names any), empty where an item lacks one.
DcmSequenceOfItems* answered_sequence(DcmSequenceOfItems& stored, const DcmItem* request,
                                      const AttributeCondition* condition) {
  auto* out = new DcmSequenceOfItems(stored.getTag());
  for (unsigned long i = 0; i < stored.card(); ++i) {
    DcmItem* item = stored.getItem(i);
    if (condition && !item_matches(condition->item_conditions, *item)) continue;
    if (request == nullptr || request->card() == 0) {
      out->append(new DcmItem(*item));
      continue;
    }
    auto* answer = new DcmItem;
    for (unsigned long k = 0; k < request->card(); ++k) {
      DcmElement* wanted = const_cast<DcmItem*>(request)->getElement(k);
      DcmElement* element = nullptr;
      if (item->findAndGetElement(wanted->getTag(), element).bad() || element == nullptr) {
        answer->insertEmptyElement(wanted->getTag());
      } else if (element->ident() == EVR_SQ && wanted->ident() == EVR_SQ) {
        auto* nested = static_cast<DcmSequenceOfItems*>(wanted);
        answer->insert(answered_sequence(
            *static_cast<DcmSequenceOfItems*>(element),
            nested->card() > 0 ? nested->getItem(0) : nullptr,
            condition ? sequence_condition_for(condition->item_conditions, wanted->getTag())
                      : nullptr));
      } else {
        answer->insert(OFstatic_cast(DcmElement*, element->clone()));
      }
    }
    out->append(answer);
  }
  return out;
}

// Whether an element's text (in items too) has bytes outside ASCII: then the answer must name
// its character set.
bool has_non_ascii(DcmElement& element) {
  if (element.ident() == EVR_SQ) {
    auto& sequence = static_cast<DcmSequenceOfItems&>(element);
    for (unsigned long i = 0; i < sequence.card(); ++i) {
      DcmItem* item = sequence.getItem(i);
      for (unsigned long k = 0; k < item->card(); ++k)
        if (has_non_ascii(*item->getElement(k))) return true;
    }
    return false;
  }
  if (!element.isaString()) return false;
  // The value as held, no copy: this runs for every returned key of every match.
  char* text = nullptr;
  Uint32 length = 0;
  if (element.getString(text, length).bad() || text == nullptr) return false;
  return std::any_of(text, text + length,
                     [](char ch) { return static_cast<unsigned char>(ch) > 0x7f; });
}

// The stored attributes of one match, decoded once per row.
struct RowDatasets {
  DcmDataset patient, study, series, instance;
  RowDatasets(const FindRow& row, std::span<const DcmTagKey> wanted) {
    for (auto [bytes, ds] : {std::pair{&row.patient_attributes, &patient},
                             {&row.study_attributes, &study},
                             {&row.series_attributes, &series},
                             {&row.instance_attributes, &instance}})
      if (!bytes->empty()) (void)decode_attributes(*bytes, *ds, wanted);
  }
  // Deepest level first: an instance's copy of a study attribute is the same value.
  DcmElement* find(const DcmTagKey& tag) {
    for (DcmDataset* ds : {&instance, &series, &study, &patient}) {
      DcmElement* element = nullptr;
      if (ds->findAndGetElement(tag, element).good() && element) return element;
    }
    return nullptr;
  }
};

// The worklist keys of the scheduled step's item that the index can match: their conditions
// narrow the SQL; the sequence's condition still checks the stored item in full.
void add_scheduled_step_conditions(DcmItem& item, FindQuery& query) {
  for (unsigned long i = 0; i < item.card(); ++i) {
    DcmElement* element = item.getElement(i);
    const auto column = column_in(kScheduledStepKeys, element->getTag());
    if (!column || element->ident() == EVR_SQ) continue;
    OFString value;
    element->getOFStringArray(value);
    if (auto matching = matching_for(element->ident(), value.c_str()))
      query.conditions.push_back({*column, matching->first, matching->second, false});
  }
}

// A worklist item keeps its step's status in a column of its own, which changes without the
// item: the stored item is brought up to date before it is matched and answered.
void apply_step_status(DcmDataset& item, const std::string& status) {
  DcmItem* step = nullptr;
  if (status.empty() ||
      item.findAndGetSequenceItem(DCM_ScheduledProcedureStepSequence, step, 0).bad() || !step)
    return;
  step->putAndInsertString(DCM_ScheduledProcedureStepStatus, status.c_str());
}

}  // namespace

QueryService::QueryService(Index& index, std::string retrieve_aet, std::size_t max_results)
    : index_(index), retrieve_aet_(std::move(retrieve_aet)), max_results_(max_results) {}

Result<ParsedFind> QueryService::parse(DcmDataset& identifier, QueryModel model) const {
  ParsedFind out;
  out.model = model;
  OFString level_text;
  identifier.findAndGetOFString(DCM_QueryRetrieveLevel, level_text);
  out.level_name = trim(level_text.c_str());
  const bool worklist = model == QueryModel::Worklist;
  if (worklist)  // the worklist model has no levels
    out.query.level = Level::Worklist;
  else if (out.level_name == "PATIENT" && model == QueryModel::PatientRoot)
    out.query.level = Level::Patient;
  else if (out.level_name == "STUDY")
    out.query.level = Level::Study;
  else if (out.level_name == "SERIES")
    out.query.level = Level::Series;
  else if (out.level_name == "IMAGE")
    out.query.level = Level::Instance;
  else if (out.level_name.empty())
    return fail(ErrorCode::InvalidObject, "Query/Retrieve Level (0008,0052) is missing");
  else
    return fail(ErrorCode::InvalidObject, "Query/Retrieve Level '" + out.level_name +
                                              "' does not exist in this information model");

  // Values arrive in the requester's character set; the index holds UTF-8.
  OFString charset;
  identifier.findAndGetOFStringArray(DCM_SpecificCharacterSet, charset);
  out.response_character_set = trim(charset.c_str());
  if (!out.response_character_set.empty() && identifier.convertToUTF8().bad())
    return fail(ErrorCode::InvalidObject,
                "Specific Character Set '" + out.response_character_set + "' is not supported");

  for (unsigned long i = 0; i < identifier.card(); ++i) {
    DcmElement* element = identifier.getElement(i);
    const DcmTagKey tag = element->getTag();
    if (tag == DCM_QueryRetrieveLevel || tag == DCM_SpecificCharacterSet) continue;
    if (tag.getGroup() == 0x0002 || tag.getGroup() == 0x0000) continue;
    out.return_keys.push_back(tag);
    if (element->ident() == EVR_SQ) {
      auto* sequence = static_cast<DcmSequenceOfItems*>(element);
      if (sequence->card() > 0 && sequence->getItem(0)->card() > 0)
        out.sequence_requests[tag] = std::make_shared<const DcmItem>(*sequence->getItem(0));
      if (worklist && tag == DCM_ScheduledProcedureStepSequence && sequence->card() > 0)
        add_scheduled_step_conditions(*sequence->getItem(0), out.query);
      auto condition = sequence_condition(*sequence);
      if (!condition) continue;
      if (!kept_at_level(tag, out.query.level)) {
        out.unsupported_optional_keys = true;
        continue;
      }
      out.attribute_conditions.push_back(std::move(*condition));
      continue;
    }
    OFString value;
    element->getOFStringArray(value);
    auto matching =
        matching_for(element->getVR() == EVR_UNKNOWN ? EVR_LO : element->ident(), value.c_str());
    if (!matching || tag == DCM_RetrieveAETitle || tag == DCM_InstanceAvailability) continue;
    const bool person_name = element->ident() == EVR_PN;
    if (auto column = worklist ? column_in(kWorklistKeys, tag) : column_for(tag)) {
      if (level_of(*column) > out.query.level) continue;  // a key below the level: ignored
      out.query.conditions.push_back({*column, matching->first, matching->second, person_name});
    } else if (worklist || !is_computed(tag)) {
      if (!kept_at_level(tag, out.query.level)) {
        out.unsupported_optional_keys = true;
        continue;
      }
      out.attribute_conditions.push_back(
          {tag, matching->first, matching->second, person_name, false, {}});
    }
  }
  out.stored_keys = out.return_keys;
  for (const auto& c : out.attribute_conditions) out.stored_keys.push_back(c.tag);
  std::sort(out.stored_keys.begin(), out.stored_keys.end());
  return out;
}

Result<FindSummary> QueryService::find(const ParsedFind& find,
                                       const std::function<bool(DcmDataset&)>& emit) const {
  FindSummary summary;
  const Level level = find.query.level;
  auto status =
      index_.find(find.query, max_results_ ? max_results_ + 1 : 0, [&](const FindRow& row) {
        if (max_results_ && summary.matches == max_results_) {
          summary.limited = true;
          return false;
        }
        RowDatasets stored(row, find.stored_keys);
        const bool worklist = level == Level::Worklist;
        if (worklist) apply_step_status(stored.patient, row.step_status);
        for (const auto& c : find.attribute_conditions) {
          DcmElement* element = stored.find(c.tag);
          if (!element || !element_matches(c, *element)) return true;
        }
        DcmDataset response;
        bool non_ascii = false;
        for (const DcmTagKey& tag : find.return_keys) {
          // Keys computed from the index, or answered by the node; worklist items hold every
          // attribute they answer with.
          auto put_computed = [&]() {
            auto put_number = [&](std::int64_t n) {
              response.putAndInsertString(tag, std::to_string(n).c_str());
            };
            if (tag == DCM_NumberOfPatientRelatedStudies)
              put_number(row.patient_studies);
            else if (tag == DCM_NumberOfPatientRelatedSeries)
              put_number(row.patient_series);
            else if (tag == DCM_NumberOfPatientRelatedInstances)
              put_number(row.patient_instances);
            else if (tag == DCM_NumberOfStudyRelatedSeries && level >= Level::Study)
              put_number(row.study_series);
            else if (tag == DCM_NumberOfStudyRelatedInstances && level >= Level::Study)
              put_number(row.study_instances);
            else if (tag == DCM_NumberOfSeriesRelatedInstances && level >= Level::Series)
              put_number(row.series_instances);
            else if (tag == DCM_ModalitiesInStudy && level >= Level::Study)
              response.putAndInsertString(tag, row.modalities_in_study.c_str());
            else if (tag == DCM_SOPClassesInStudy && level >= Level::Study)
              response.putAndInsertString(tag, row.sop_classes_in_study.c_str());
            else if (tag == DCM_RetrieveAETitle)
              response.putAndInsertString(tag, retrieve_aet_.c_str());
            else if (tag == DCM_InstanceAvailability)
              response.putAndInsertString(tag, "ONLINE");
            else
              return false;
            return true;
          };
          if (!worklist && put_computed()) continue;
          if (DcmElement* stored_element = stored.find(tag)) {
            DcmElement* answer = nullptr;
            if (stored_element->ident() == EVR_SQ) {
              const auto request = find.sequence_requests.find(tag);
              answer = answered_sequence(
                  *static_cast<DcmSequenceOfItems*>(stored_element),
                  request == find.sequence_requests.end() ? nullptr : request->second.get(),
                  sequence_condition_for(find.attribute_conditions, tag));
            } else {
              answer = OFstatic_cast(DcmElement*, stored_element->clone());
            }
            non_ascii = non_ascii || has_non_ascii(*answer);
            response.insert(answer, true);
          } else {
            response.insertEmptyElement(tag);  // requested, but the entity has no value
          }
        }
        if (!worklist) response.putAndInsertString(DCM_QueryRetrieveLevel, find.level_name.c_str());
        if (non_ascii) {
          // Stored text is UTF-8; answer in the requester's character set where it can hold the
          // values, else in UTF-8, saying so either way.
          response.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
          if (!find.response_character_set.empty() && find.response_character_set != "ISO_IR 192" &&
              response.convertCharacterSet(find.response_character_set.c_str()).bad())
            response.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
        }
        ++summary.matches;
        return emit(response);
      });
  if (!status) return tl::unexpected(status.error());
  if (summary.limited)
    PACS_LOG(Warn) << "C-FIND result limit (" << max_results_
                   << ") reached: later matches not sent";
  return summary;
}

void QueryService::note_worklist_query(const std::vector<std::string>& accession_numbers,
                                       const std::string& calling_ae,
                                       std::int64_t answered_ms) const {
  // A failed write is not remembered as noted: the modality's next query tries again.
  constexpr std::size_t kMaxRemembered = 100000;
  std::vector<std::string> fresh;
  {
    std::lock_guard lock(noted_mu_);
    if (noted_.size() > kMaxRemembered) noted_.clear();
    for (const std::string& accession : accession_numbers)
      if (!noted_.count(accession + '\x1f' + calling_ae)) fresh.push_back(accession);
  }
  if (fresh.empty()) return;
  auto noted = index_.record_worklist_query(fresh, calling_ae, answered_ms);
  if (noted) {
    std::lock_guard lock(noted_mu_);
    for (const std::string& accession : fresh) noted_.insert(accession + '\x1f' + calling_ae);
    return;
  }
  PACS_LOG(Warn) << "worklist query of " << calling_ae
                 << " not on the timeline: " << noted.error().message;
}

}  // namespace pacs
