#include "pacsnode/services/mpps.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>

#include "storage/dicom_attributes.h"
#include "storage/model/log.h"

namespace pacs {
namespace {

// DIMSE statuses of N-CREATE and N-SET (PS3.7 C, PS3.4 F.7.2).
constexpr std::uint16_t kSuccess = 0x0000;
constexpr std::uint16_t kProcessingFailure = 0x0110;
constexpr std::uint16_t kDuplicateInstance = 0x0111;
constexpr std::uint16_t kNoSuchInstance = 0x0112;
constexpr std::uint16_t kInvalidAttributeValue = 0x0106;
constexpr std::uint16_t kMissingAttribute = 0x0120;

// The step's status and the keys of the scheduled step it performs (the first item of the
// Scheduled Step Attributes Sequence), from its attributes.
MppsRecord record_of(const std::string& uid, DcmDataset& attributes) {
  MppsRecord r;
  r.sop_instance_uid = uid;
  r.status = attribute_text(attributes, DCM_PerformedProcedureStepStatus);
  DcmItem* scheduled = nullptr;
  if (attributes.findAndGetSequenceItem(DCM_ScheduledStepAttributesSequence, scheduled, 0).good() &&
      scheduled) {
    r.study_uid = attribute_text(*scheduled, DCM_StudyInstanceUID);
    r.accession_number = attribute_text(*scheduled, DCM_AccessionNumber);
    r.sps_id = attribute_text(*scheduled, DCM_ScheduledProcedureStepID);
  }
  attributes.convertToUTF8();
  r.attributes = encode_attributes(attributes);
  return r;
}

bool known_status(const std::string& status) {
  return status == "IN PROGRESS" || status == "COMPLETED" || status == "DISCONTINUED";
}

MppsOutcome failed(std::uint16_t status, std::string why) {
  return {status, std::move(why)};
}

MppsOutcome index_failure(const Error& error) {
  PACS_LOG(Error) << "MPPS: " << error.message;
  return failed(kProcessingFailure, "the index is unavailable");
}

}  // namespace

MppsOutcome MppsService::create(const std::string& uid, DcmDataset& attributes) {
  const std::string status = attribute_text(attributes, DCM_PerformedProcedureStepStatus);
  if (status.empty()) return failed(kMissingAttribute, "Performed Procedure Step Status missing");
  if (status != "IN PROGRESS")  // PS3.4 F.7.2.1: a step starts IN PROGRESS
    return failed(kInvalidAttributeValue, "a new step must be IN PROGRESS, not " + status);
  if (!attributes.tagExists(DCM_ScheduledStepAttributesSequence))
    return failed(kMissingAttribute, "Scheduled Step Attributes Sequence missing");
  const MppsRecord record = record_of(uid, attributes);
  auto created = index_.create_mpps(record, notify_);
  if (!created && created.error().code == ErrorCode::Duplicate)
    return failed(kDuplicateInstance, "a performed procedure step with this UID exists");
  if (!created) return index_failure(created.error());
  PACS_LOG(Info) << "MPPS " << uid << " IN PROGRESS (study " << record.study_uid << ")";
  return {kSuccess, {}};
}

MppsOutcome MppsService::set(const std::string& uid, DcmDataset& modifications) {
  auto found = index_.find_mpps(uid);
  if (!found) return index_failure(found.error());
  if (!*found) return failed(kNoSuchInstance, "no performed procedure step with this UID");
  const MppsRecord& stored = **found;
  // PS3.4 F.7.2.2: once COMPLETED or DISCONTINUED, a step takes no more changes.
  if (stored.status != "IN PROGRESS")
    return failed(kProcessingFailure,
                  "the performed procedure step is " + stored.status + " and may not change");
  DcmDataset merged;
  if (!decode_attributes(stored.attributes, merged))
    return failed(kProcessingFailure, "the stored step cannot be read");
  // Each attribute of the modification list replaces the stored one.
  for (unsigned long i = 0; i < modifications.card(); ++i) {
    DcmElement* element = modifications.getElement(i);
    merged.insert(OFstatic_cast(DcmElement*, element->clone()), true);
  }
  const std::string status = attribute_text(merged, DCM_PerformedProcedureStepStatus);
  if (!known_status(status))
    return failed(kInvalidAttributeValue, "Performed Procedure Step Status '" + status + "'");
  const MppsRecord record = record_of(uid, merged);
  auto updated = index_.update_mpps(record, notify_);
  if (!updated && updated.error().code == ErrorCode::NotFound)
    return failed(kNoSuchInstance, "no performed procedure step with this UID");
  if (!updated) return index_failure(updated.error());
  PACS_LOG(Info) << "MPPS " << uid << " " << status << " (study " << record.study_uid << ")";
  return {kSuccess, {}};
}

}  // namespace pacs
