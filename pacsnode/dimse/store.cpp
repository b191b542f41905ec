// C-STORE SCP: receive into a temp file, ingest, answer with the status ingest earned.
#include "pacsnode/dimse/scp.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include "pacsnode/services/store_status.h"
#include "storage/model/log.h"

namespace pacs::dimse {

OFCondition Scp::handle_store(T_DIMSE_C_StoreRQ& request, T_ASC_PresentationContextID id) {
  // With the data disk at its reserve, the data set is read and dropped, and the answer is
  // "out of resources": writing it would fail partway, and DCMTK can only abort the association
  // when a write fails mid-receive.
  const auto room = context_.ingest.check_room();
  // An AE that may only get keeps its storage contexts for C-GET sub-operations: a C-STORE it
  // sends on them is read and refused (0124H, Refused: Not Authorized, PS3.7 C.5).
  const bool authorized = context_.options.access.allows(calling_, DimseService::Store);
  TempFile temp = context_.ingest.new_temp_file();
  const std::string target = room && authorized ? temp.path().string() : "/dev/null";
  OFCondition c = receiveSTORERequest(request, id, OFString(target.c_str()));
  if (c.bad()) {
    // The association broke while the dataset streamed in (or the disk filled under it): nothing
    // to answer, nothing stored.
    PACS_LOG(Warn) << "C-STORE of " << trimmed(request.AffectedSOPInstanceUID) << " from "
                   << calling_ << " not received: " << c.text();
    ++failed_;
    return c;
  }
  if (!authorized) {
    PACS_LOG(Warn) << "C-STORE " << trimmed(request.AffectedSOPInstanceUID) << " from " << calling_
                   << " refused: the AE may not store";
    ++failed_;
    return sendSTOREResponse(id, request.MessageID, request.AffectedSOPClassUID,
                             request.AffectedSOPInstanceUID, 0x0124);
  }
  const Announced announced{trimmed(request.AffectedSOPClassUID),
                            trimmed(request.AffectedSOPInstanceUID), calling_};
  auto stored = room ? context_.ingest.ingest(std::move(temp), announced)
                     : Result<Stored>(tl::unexpected(room.error()));
  if (stored) {
    ++stored_;
    received_.add(stored->study_uid, stored->patient_id, stored->sop_class_uid);
    PACS_LOG(Debug) << "C-STORE " << stored->sop_instance_uid << " (study " << stored->study_uid
                    << ") from " << calling_ << ": " << to_string(stored->outcome);
    return sendSTOREResponse(id, request.MessageID, request.AffectedSOPClassUID,
                             request.AffectedSOPInstanceUID, STATUS_Success);
  }
  ++failed_;
  const std::uint16_t status = store_status_for(stored.error());
  PACS_LOG(Warn) << "C-STORE " << announced.sop_instance_uid << " from " << calling_
                 << " refused with status 0x" << std::hex << status << std::dec << ": "
                 << stored.error().message;
  DcmDataset detail;
  // Error Comment is LO: at most 64 characters.
  detail.putAndInsertString(DCM_ErrorComment, stored.error().message.substr(0, 64).c_str());
  return sendSTOREResponse(id, request.MessageID, request.AffectedSOPClassUID,
                           request.AffectedSOPInstanceUID, status, &detail);
}

}  // namespace pacs::dimse
