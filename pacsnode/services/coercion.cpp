#include "pacsnode/services/coercion.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>

#include <algorithm>
#include <ctime>
#include <string>

#include "storage/dicom_attributes.h"

namespace pacs {
namespace {

// Sorted by tag, as decode_attributes wants them.
const DcmTagKey kPatientKeys[] = {DCM_PatientName, DCM_PatientID, DCM_IssuerOfPatientID,
                                  DCM_PatientBirthDate, DCM_PatientSex};

// The member of PatientValues that holds an attribute (const or not).
template <typename Values>
auto& field(Values& v, const DcmTagKey& tag) {
  if (tag == DCM_PatientName) return v.name;
  if (tag == DCM_PatientID) return v.patient_id;
  if (tag == DCM_IssuerOfPatientID) return v.issuer_of_patient_id;
  if (tag == DCM_PatientBirthDate) return v.birth_date;
  return v.sex;
}

}  // namespace

std::optional<PatientValues> patient_update_for(const FindRow& row) {
  // Only patients an ADT message changed can differ from their objects: the others cost nothing.
  if (!row.patient_changed || row.patient_attributes.empty() || row.instance_attributes.empty())
    return std::nullopt;
  DcmDataset patient, instance;
  if (!decode_attributes(row.patient_attributes, patient, kPatientKeys) ||
      !decode_attributes(row.instance_attributes, instance, kPatientKeys))
    return std::nullopt;
  PatientValues values;
  bool differs = false;
  for (const DcmTagKey& tag : kPatientKeys) {
    const std::string current = attribute_text(patient, tag);
    differs = differs || current != attribute_text(instance, tag);
    field(values, tag) = current;
  }
  if (!differs) return std::nullopt;
  return values;
}

void coerce_patient(DcmItem& dataset, const PatientValues& values, const char* reason) {
  // The index holds UTF-8: the object speaks it too before the values go in.
  const auto non_ascii = [](const std::optional<std::string>& v) {
    return v && std::any_of(v->begin(), v->end(),
                            [](char ch) { return static_cast<unsigned char>(ch) > 0x7f; });
  };
  if (std::any_of(std::begin(kPatientKeys), std::end(kPatientKeys),
                  [&](const DcmTagKey& tag) { return non_ascii(field(values, tag)); }))
    dataset.convertToUTF8();
  DcmItem* original = nullptr;
  DcmItem* modified = nullptr;
  for (const DcmTagKey& tag : kPatientKeys) {
    const auto& value = field(values, tag);
    if (!value) continue;
    const std::string before = attribute_text(dataset, tag);
    if (before == *value && dataset.tagExists(tag)) continue;
    if (!original) {
      dataset.findOrCreateSequenceItem(DCM_OriginalAttributesSequence, original, -2);
      original->putAndInsertString(DCM_SourceOfPreviousValues, "");
      char now[32];
      const std::time_t t = std::time(nullptr);
      std::tm utc{};
      gmtime_r(&t, &utc);
      std::strftime(now, sizeof now, "%Y%m%d%H%M%S", &utc);
      original->putAndInsertString(DCM_AttributeModificationDateTime, now);
      original->putAndInsertString(DCM_ModifyingSystem, "PACSNODE");
      original->putAndInsertString(DCM_ReasonForTheAttributeModification, reason);
      original->findOrCreateSequenceItem(DCM_ModifiedAttributesSequence, modified, 0);
    }
    modified->putAndInsertString(tag, before.c_str());
    dataset.putAndInsertString(tag, value->c_str());
  }
}

}  // namespace pacs
