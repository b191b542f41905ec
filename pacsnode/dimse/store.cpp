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
  TempFile temp = context_.ingest.new_temp_file();
  const std::string target = room ? temp.path().string() : "/dev/null";
  OFCondition c = receiveSTORERequest(request, id, OFString(target.c_str()));
  if (c.bad()) {
    // The association broke while the dataset streamed in (or the disk filled under it): nothing
    // to answer, nothing stored.
    PACS_LOG(Warn) << "C-STORE of " << trimmed(request.AffectedSOPInstanceUID) << " from "
                   << calling_ << " not received: " << c.text();
    ++failed_;
    return c;
  }
  const Announced announced{trimmed(request.AffectedSOPClassUID),
                            trimmed(request.AffectedSOPInstanceUID), calling_};
  auto stored = room ? context_.ingest.ingest(std::move(temp), announced)
                     : Result<Stored>(tl::unexpected(room.error()));
  if (stored) {
    ++stored_;
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
