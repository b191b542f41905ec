// C-GET SCP (PS3.4 C.4.3): sub-operations on the requester's own association.
#include "pacsnode/dimse/scp.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <memory>

#include "storage/model/log.h"

namespace pacs::dimse {

// PS3.4 C.4.3: like C-MOVE, but the C-STORE sub-operations go back on this association, on the
// storage contexts the requester proposed with the SCP role for itself.
OFCondition Scp::handle_get(T_DIMSE_C_GetRQ& request, T_ASC_PresentationContextID id) {
  T_ASC_PresentationContextID dataset_context = id;
  DcmDataset* received = nullptr;
  OFCondition c = receiveDIMSEDataset(&dataset_context, &received);
  std::unique_ptr<DcmDataset> identifier(received);
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
  for (const RetrieveItem& item : *items) {
    if (cancelled || checkForCANCEL(id, request.MessageID).good()) {
      cancelled = true;
      break;
    }
    auto status = send_on_this_association(item, cancelled);
    if (!status) return status.error();  // the association broke
    --counts.remaining;
    if (*status == STATUS_Success) {
      ++counts.completed;
    } else if ((*status & 0xf000) == 0xb000) {
      ++counts.warning;
    } else {
      ++counts.failed;
      counts.failed_sop_instances.push_back(item.sop_instance_uid);
    }
    if (c = respond(STATUS_Pending, nullptr, ""); c.bad()) return c;
  }
  PACS_LOG(Info) << "C-GET from " << calling_ << ": " << counts.completed << " sent, "
                 << counts.failed << " failed, " << counts.warning << " warnings"
                 << (cancelled ? " (cancelled)" : "");
  const Uint16 status = final_retrieve_status(counts, cancelled);
  if (status == STATUS_Success) return respond(status, nullptr, "");
  DcmDataset failed;
  put_failed_list(counts, failed);
  return respond(status, &failed, "");
}

// One C-STORE sub-operation of a C-GET. Returns its status (a failure status when no context
// fits or the file cannot be read), or a bad condition when the association broke. A C-CANCEL
// that arrives instead of the C-STORE response is noted and the response still awaited.
tl::expected<Uint16, OFCondition> Scp::send_on_this_association(const RetrieveItem& item,
                                                                bool& cancelled) {
  // Prefer the stored syntax (bytes unchanged), then the uncompressed ones DCMTK can convert to.
  T_ASC_PresentationContextID context = 0;
  std::string syntax;
  for (const std::string& candidate :
       {item.transfer_syntax, std::string(UID_LittleEndianExplicitTransferSyntax),
        std::string(UID_LittleEndianImplicitTransferSyntax),
        std::string(UID_BigEndianExplicitTransferSyntax)}) {
    context = association_ ? ASC_findAcceptedPresentationContextID(
                                 association_, item.sop_class_uid.c_str(), candidate.c_str())
                           : 0;
    if (context) {
      syntax = candidate;
      break;
    }
  }
  if (!context) {
    PACS_LOG(Warn) << "C-GET sub-operation for " << item.sop_instance_uid
                   << " failed: the requester accepted no context for its SOP class and syntax";
    return STATUS_STORE_Refused_SOPClassNotSupported;
  }
  DcmFileFormat file;
  DcmDataset* dataset = file.getDataset();
  const E_TransferSyntax target = DcmXfer(syntax.c_str()).getXfer();
  if (file.loadFile(item.file.c_str()).bad() ||
      (syntax != item.transfer_syntax &&
       (dataset->chooseRepresentation(target, nullptr).bad() || !dataset->canWriteXfer(target)))) {
    PACS_LOG(Warn) << "C-GET sub-operation for " << item.sop_instance_uid
                   << " failed: cannot read it or convert it to " << syntax;
    return STATUS_STORE_Error_CannotUnderstand;
  }
  T_DIMSE_Message message{};
  message.CommandField = DIMSE_C_STORE_RQ;
  T_DIMSE_C_StoreRQ& rq = message.msg.CStoreRQ;
  rq.MessageID = next_message_id_++;
  OFStandard::strlcpy(rq.AffectedSOPClassUID, item.sop_class_uid.c_str(),
                      sizeof rq.AffectedSOPClassUID);
  OFStandard::strlcpy(rq.AffectedSOPInstanceUID, item.sop_instance_uid.c_str(),
                      sizeof rq.AffectedSOPInstanceUID);
  rq.Priority = DIMSE_PRIORITY_MEDIUM;
  rq.DataSetType = DIMSE_DATASET_PRESENT;
  if (OFCondition c = sendDIMSEMessage(context, &message, dataset); c.bad())
    return tl::unexpected(c);
  // Bounded: each pass either returns or consumes one C-CANCEL; a peer sending only cancels is
  // cut off by the DIMSE timeout.
  for (int commands = 0; commands < 16; ++commands) {
    T_ASC_PresentationContextID from = 0;
    T_DIMSE_Message response{};
    DcmDataset* detail = nullptr;
    OFCondition c =
        receiveDIMSECommand(&from, &response, &detail, nullptr, context_.options.timeout_seconds);
    delete detail;
    if (c.bad()) return tl::unexpected(c);
    if (response.CommandField == DIMSE_C_CANCEL_RQ) {
      cancelled = true;
      continue;
    }
    if (response.CommandField == DIMSE_C_STORE_RSP) return response.msg.CStoreRSP.DimseStatus;
    return tl::unexpected(DIMSE_BADCOMMANDTYPE);
  }
  return tl::unexpected(DIMSE_BADCOMMANDTYPE);
}

}  // namespace pacs::dimse
