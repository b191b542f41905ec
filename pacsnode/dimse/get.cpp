// C-GET SCP (PS3.4 C.4.3): sub-operations on the requester's own association.
#include "pacsnode/dimse/scp.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include <algorithm>
#include <memory>

#include "pacsnode/dimse/instance_sender.h"
#include "storage/model/log.h"

namespace pacs::dimse {

// PS3.4 C.4.3: like C-MOVE, but the C-STORE sub-operations go back on this association, on the
// storage contexts the requester proposed with the SCP role for itself.
OFCondition Scp::handle_get(T_DIMSE_C_GetRQ& request, T_ASC_PresentationContextID id) {
  std::unique_ptr<DcmDataset> identifier;
  OFCondition c = receive_dataset(id, identifier);
  if (c.bad()) return c;
  SubOperations counts;
  auto respond = [&](Uint16 status, DcmDataset* body, const std::string& why) {
    T_DIMSE_Message message{};
    message.CommandField = DIMSE_C_GET_RSP;
    T_DIMSE_C_GetRSP& rsp = message.msg.CGetRSP;
    rsp.MessageIDBeingRespondedTo = request.MessageID;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, request.AffectedSOPClassUID,
                        sizeof rsp.AffectedSOPClassUID);
    rsp.DataSetType = body ? DIMSE_DATASET_PRESENT : DIMSE_DATASET_NULL;
    rsp.DimseStatus = status;
    rsp.NumberOfRemainingSubOperations = static_cast<DIC_US>(std::min(counts.remaining, 65535u));
    rsp.NumberOfCompletedSubOperations = static_cast<DIC_US>(std::min(counts.completed, 65535u));
    rsp.NumberOfFailedSubOperations = static_cast<DIC_US>(std::min(counts.failed, 65535u));
    rsp.NumberOfWarningSubOperations = static_cast<DIC_US>(std::min(counts.warning, 65535u));
    rsp.opts = O_GET_AFFECTEDSOPCLASSUID | O_GET_NUMBEROFCOMPLETEDSUBOPERATIONS |
               O_GET_NUMBEROFFAILEDSUBOPERATIONS | O_GET_NUMBEROFWARNINGSUBOPERATIONS;
    // Remaining is sent in pending and cancel responses only (PS3.7 C.4.3.1.3).
    if (status == STATUS_Pending || status == STATUS_GET_Cancel)
      rsp.opts |= O_GET_NUMBEROFREMAININGSUBOPERATIONS;
    DcmDataset detail;
    if (!why.empty()) detail.putAndInsertString(DCM_ErrorComment, why.substr(0, 64).c_str());
    return sendDIMSEMessage(id, &message, body, why.empty() ? nullptr : &detail);
  };
  auto items =
      context_.retrieve.resolve(*identifier, model_of(trimmed(request.AffectedSOPClassUID)));
  if (!items) {
    const bool bad_identifier = items.error().code == ErrorCode::InvalidObject;
    return respond(bad_identifier ? STATUS_GET_Error_DataSetDoesNotMatchSOPClass
                                  : STATUS_GET_Refused_OutOfResourcesNumberOfMatches,
                   nullptr, items.error().message);
  }
  counts.remaining = static_cast<unsigned>(items->size());
  bool cancelled = false;
  PendingPacer pacer;
  // Sub-operations are ours to number on this association; the requester named no originator.
  InstanceSender sender(association_, static_cast<int>(context_.options.timeout_seconds));
  for (std::size_t i = 0; i < items->size(); ++i) {
    const RetrieveItem& item = (*items)[i];
    if (cancelled || checkForCANCEL(id, request.MessageID).good()) {
      cancelled = true;
      break;
    }
    auto outcome = sender.send(item, cancelled, i + 1 < items->size() ? &(*items)[i + 1] : nullptr);
    if (!outcome) return outcome.error();  // the association broke
    counts.count(item.sop_instance_uid, outcome->status, outcome->failure);
    if (counts.remaining == 0 || !pacer.due()) continue;  // the final response follows anyway
    if (c = respond(STATUS_Pending, nullptr, ""); c.bad()) return c;
  }
  audit_sent(calling_, peer_address_, *items, counts);
  PACS_LOG(Info) << "C-GET from " << calling_ << ": " << counts.completed << " sent, "
                 << counts.failed << " failed, " << counts.warning << " warnings"
                 << (cancelled ? " (cancelled)" : "");
  const Uint16 status = final_retrieve_status(counts, cancelled);
  if (status == STATUS_Success) return respond(status, nullptr, "");
  DcmDataset failed;
  put_failed_list(counts, failed);
  return respond(status, &failed, "");
}

}  // namespace pacs::dimse
