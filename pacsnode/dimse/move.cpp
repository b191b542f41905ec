// C-MOVE SCP (PS3.4 C.4.2).
#include "pacsnode/dimse/scp.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include <memory>

#include "storage/model/log.h"

namespace pacs::dimse {

// PS3.4 C.4.2: sub-operations on a new association to the destination, pending responses with
// the counts after each, a final status that sums them up.
OFCondition Scp::handle_move(T_DIMSE_C_MoveRQ& request, T_ASC_PresentationContextID id) {
  DcmDataset* received = nullptr;
  OFString destination_text;
  OFCondition c = receiveMOVERequest(request, id, received, destination_text);
  std::unique_ptr<DcmDataset> identifier(received);
  if (c.bad()) return c;
  const std::string destination = trimmed(destination_text.c_str());
  auto answer = [&](Uint16 status, const SubOperations& counts, DcmDataset* body,
                    const std::string& why) {
    DcmDataset detail;
    if (!why.empty()) detail.putAndInsertString(DCM_ErrorComment, why.substr(0, 64).c_str());
    return sendMOVEResponse(id, request.MessageID, request.AffectedSOPClassUID, body, status,
                            why.empty() ? nullptr : &detail, counts.remaining, counts.completed,
                            counts.failed, counts.warning);
  };
  // The destination is an AE title: its address comes from our configuration only.
  const auto peer = context_.options.peers->find(destination);
  if (!peer) {
    PACS_LOG(Warn) << "C-MOVE from " << calling_ << " to unknown destination " << destination;
    return answer(STATUS_MOVE_Refused_MoveDestinationUnknown, {}, nullptr,
                  "move destination " + destination + " unknown");
  }
  auto items =
      context_.retrieve.resolve(*identifier, model_of(trimmed(request.AffectedSOPClassUID)));
  if (!items) {
    const bool bad_identifier = items.error().code == ErrorCode::InvalidObject;
    return answer(bad_identifier ? STATUS_MOVE_Error_DataSetDoesNotMatchSOPClass
                                 : STATUS_MOVE_Refused_OutOfResourcesNumberOfMatches,
                  {}, nullptr, items.error().message);
  }
  bool cancelled = false;
  const SendRequest send{context_.options.aet,
                         destination,
                         *peer,
                         calling_,
                         request.MessageID,
                         context_.options.timeout_seconds};
  PendingPacer pacer;
  const SubOperations counts = send_instances(send, *items, [&](const SubOperations& now) {
    if (checkForCANCEL(id, request.MessageID).good()) {
      cancelled = true;
      return false;
    }
    if (now.remaining == 0 || !pacer.due()) return true;  // the final response follows anyway
    c = answer(STATUS_Pending, now, nullptr, "");
    return c.good();
  });
  audit_sent(destination, peer->host, *items, counts);
  if (c.bad()) return c;  // the requester's association broke
  PACS_LOG(Info) << "C-MOVE from " << calling_ << " to " << destination << ": " << counts.completed
                 << " sent, " << counts.failed << " failed, " << counts.warning << " warnings"
                 << (cancelled ? " (cancelled)" : "");
  const Uint16 status = final_retrieve_status(counts, cancelled);
  if (status == STATUS_Success) return answer(status, counts, nullptr, "");
  DcmDataset failed;
  put_failed_list(counts, failed);
  return answer(status, counts, &failed, "");
}

}  // namespace pacs::dimse
