#include "pacsnode/dimse/scp.h"

#include <dcmtk/dcmdata/dcuid.h>

#include "storage/model/log.h"

namespace pacs::dimse {

std::string trimmed(const char* text) {
  std::string s(text ? text : "");
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

QueryModel model_of(const std::string& sop_class) {
  if (sop_class == UID_FINDModalityWorklistInformationModel) return QueryModel::Worklist;
  return sop_class == UID_FINDPatientRootQueryRetrieveInformationModel ||
                 sop_class == UID_MOVEPatientRootQueryRetrieveInformationModel ||
                 sop_class == UID_GETPatientRootQueryRetrieveInformationModel
             ? QueryModel::PatientRoot
             : QueryModel::StudyRoot;
}

// Accepted transfer syntaxes in preference order. The acceptor chooses, so compressed syntaxes
// come first: an object offered compressed is stored as received, never inflated on the way in.
const std::vector<const char*>& storage_transfer_syntaxes() {
  static const std::vector<const char*> syntaxes = {
      UID_JPEG2000LosslessOnlyTransferSyntax,
      UID_JPEG2000TransferSyntax,
      // HTJ2K (1.2.840.10008.1.2.4.201-203) is not offered: DCMTK 3.6.7's DIMSE layer refuses any
      // message on a context whose transfer syntax it does not know (0006:0212) and the
      // association aborts. Declining it at negotiation lets a sender fall back to another.
      UID_JPEGLSLosslessTransferSyntax,
      UID_JPEGLSLossyTransferSyntax,
      UID_JPEGProcess14SV1TransferSyntax,
      UID_JPEGProcess14TransferSyntax,
      UID_JPEGProcess1TransferSyntax,
      UID_JPEGProcess2_4TransferSyntax,
      UID_RLELosslessTransferSyntax,
      UID_MPEG2MainProfileAtMainLevelTransferSyntax,
      UID_MPEG4HighProfileLevel4_1TransferSyntax,
      UID_HEVCMainProfileLevel5_1TransferSyntax,
      UID_DeflatedExplicitVRLittleEndianTransferSyntax,
      UID_LittleEndianExplicitTransferSyntax,
      UID_BigEndianExplicitTransferSyntax,
      UID_LittleEndianImplicitTransferSyntax,
  };
  return syntaxes;
}

OFCondition Scp::handleIncomingCommand(T_DIMSE_Message* message,
                                       const DcmPresentationContextInfo& info) {
  if (message->CommandField == DIMSE_C_STORE_RQ)
    return handle_store(message->msg.CStoreRQ, info.presentationContextID);
  if (message->CommandField == DIMSE_C_FIND_RQ)
    return handle_find(message->msg.CFindRQ, info.presentationContextID);
  if (message->CommandField == DIMSE_C_MOVE_RQ)
    return handle_move(message->msg.CMoveRQ, info.presentationContextID);
  if (message->CommandField == DIMSE_C_GET_RQ)
    return handle_get(message->msg.CGetRQ, info.presentationContextID);
  if (message->CommandField == DIMSE_N_CREATE_RQ)
    return handle_ncreate(message->msg.NCreateRQ, info.presentationContextID);
  if (message->CommandField == DIMSE_N_SET_RQ)
    return handle_nset(message->msg.NSetRQ, info.presentationContextID);
  return DcmThreadSCP::handleIncomingCommand(message, info);  // C-ECHO
}

OFCondition Scp::receive_dataset(T_ASC_PresentationContextID id, std::unique_ptr<DcmDataset>& out) {
  DcmDataset* received = nullptr;
  const OFCondition c = receiveDIMSEDataset(&id, &received);
  out.reset(received);
  return c;
}

OFBool Scp::checkCalledAETitleAccepted(const OFString& called) {
  return trimmed(called.c_str()) == context_.options.aet;
}

OFBool Scp::checkCallingAETitleAccepted(const OFString& calling) {
  const auto& allowed = context_.options.allowed_calling_aets;
  return allowed.empty() || allowed.count(trimmed(calling.c_str())) > 0;
}

void Scp::notifyAssociationRequest(const T_ASC_Parameters& params, DcmSCPActionType& action) {
  params_ = const_cast<T_ASC_Parameters*>(&params);
  calling_ = trimmed(params.DULparams.callingAPTitle);
  DcmThreadSCP::notifyAssociationRequest(params, action);
}

OFCondition Scp::negotiateAssociation() {
  OFCondition c = DcmThreadSCP::negotiateAssociation();
  if (c.good() && context_.options.accept_unknown_sop_classes && params_) accept_unknown_classes();
  return c;
}

void Scp::notifyAssociationTermination() {
  if (stored_ + failed_ > 0)
    PACS_LOG(Info) << "association from " << calling_ << " ended: " << stored_ << " stored, "
                   << failed_ << " failed";
  stored_ = failed_ = 0;
  params_ = nullptr;
}

// Storage classes DCMTK does not know (private or newer ones) are accepted with the first
// proposed syntax we store, as storescp --promiscuous does.
void Scp::accept_unknown_classes() {
  const int count = ASC_countPresentationContexts(params_);
  for (int i = 0; i < count; ++i) {
    T_ASC_PresentationContext pc;
    if (ASC_getPresentationContext(params_, i, &pc).bad()) continue;
    if (pc.resultReason != ASC_P_ABSTRACTSYNTAXNOTSUPPORTED) continue;
    if (!Uid::parse(pc.abstractSyntax)) continue;
    for (const char* ours : storage_transfer_syntaxes()) {
      bool proposed = false;
      for (int t = 0; t < pc.transferSyntaxCount; ++t)
        proposed = proposed || trimmed(pc.proposedTransferSyntaxes[t]) == ours;
      if (!proposed) continue;
      if (ASC_acceptPresentationContext(params_, pc.presentationContextID, ours).good())
        PACS_LOG(Info) << "accepted unknown SOP class " << pc.abstractSyntax << " from "
                       << calling_;
      break;
    }
  }
}

}  // namespace pacs::dimse
