#include "pacsnode/dimse/scp.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <map>
#include <set>
#include <string_view>

#include "security/audit_trail.h"
#include "security/encoding.h"
#include "storage/dicom_attributes.h"
#include "storage/model/log.h"

namespace pacs::dimse {

std::string trimmed(const char* text) {
  std::string s(text ? text : "");
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

std::unique_ptr<DcmDataset> error_comment(const std::string& why) {
  auto detail = std::make_unique<DcmDataset>();
  detail->putAndInsertString(DCM_ErrorComment, why.substr(0, 64).c_str());
  return detail;
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
  if (message->CommandField == DIMSE_N_ACTION_RQ)
    return handle_naction(message->msg.NActionRQ, info.presentationContextID);
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

// DcmSCP asks about the calling AE and the calling host separately, after
// notifyAssociationRequest, which has judged both: each check refuses with its own reason.
OFBool Scp::checkCallingAETitleAccepted(const OFString&) {
  if (verdict_ != AccessPolicy::Verdict::UnknownAe) return OFTrue;
  PACS_LOG(Warn) << "association refused: calling AE " << calling_ << " from " << peer_address_
                 << " is not known";
  audit::record(audit::security_alert(calling_, peer_address_, "calling AE title not recognized",
                                      context_.options.aet));
  return OFFalse;
}

OFBool Scp::checkCallingHostAccepted(const OFString&) {
  if (verdict_ != AccessPolicy::Verdict::WrongAddress) return OFTrue;
  PACS_LOG(Warn) << "association refused: calling AE " << calling_ << " may not call from "
                 << peer_address_;
  audit::record(audit::security_alert(
      calling_, peer_address_, "calling AE not allowed from this address", context_.options.aet));
  return OFFalse;
}

void Scp::notifyAssociationRequest(const T_ASC_Parameters& params, DcmSCPActionType& action) {
  params_ = const_cast<T_ASC_Parameters*>(&params);
  calling_ = trimmed(params.DULparams.callingAPTitle);
  peer_address_ = trimmed(params.DULparams.callingPresentationAddress);
  verdict_ = context_.options.access.admit(calling_, peer_address_);
  DcmThreadSCP::notifyAssociationRequest(params, action);
}

OFCondition Scp::negotiateAssociation() {
  OFCondition c = DcmThreadSCP::negotiateAssociation();
  if (c.good() && context_.options.accept_unknown_sop_classes && params_) accept_unknown_classes();
  if (c.good() && params_) refuse_denied_services();
  return c;
}

void Scp::audit_sent(const std::string& destination_aet, const std::string& destination_address,
                     const std::vector<RetrieveItem>& items, const SubOperations& counts) {
  if (items.empty()) return;
  audit::TransferTally sent;
  std::map<std::string, std::string> patients;  // by study: one index lookup per study
  for (const auto& item : items) {
    auto [it, fresh] = patients.try_emplace(item.study_uid);
    if (fresh) it->second = context_.retrieve.patient_of_study(item.study_uid);
    sent.add(item.study_uid, it->second, item.sop_class_uid);
  }
  audit::record(audit::instances_transferred(
      false, counts.failed ? 4 : 0, audit::node_participant(context_.options.aet, false),
      audit::remote(destination_aet, destination_address, false), sent.studies()));
}

void Scp::audit_query(const std::string& sop_class, DcmDataset& identifier, bool answered) {
  audit::record(audit::query(answered ? 0 : 4, audit::remote(calling_, peer_address_, true),
                             audit::node_participant(context_.options.aet, false), sop_class,
                             security::base64_encode(encode_attributes(identifier))));
}

void Scp::refuse_denied_services() {
  const int count = ASC_countPresentationContexts(params_);
  std::set<std::string_view> denied;
  for (int i = 0; i < count; ++i) {
    T_ASC_PresentationContext pc;
    if (ASC_getPresentationContext(params_, i, &pc).bad()) continue;
    if (pc.resultReason != ASC_P_ACCEPTANCE) continue;
    const std::string sop_class = trimmed(pc.abstractSyntax);
    // Anything accepted that is not one of the named services is a storage class (known to
    // DCMTK, or unknown and accepted on purpose).
    const auto service = service_of_sop_class(sop_class, true);
    const auto& access = context_.options.access;
    if (service && access.allows(calling_, *service)) continue;
    // A storage context on which the requester takes the SCP role carries C-GET's sub-operations
    // back to it: it stays for an AE that may get (handle_store still refuses its C-STOREs).
    const bool requester_is_scp =
        pc.acceptedRole == ASC_SC_ROLE_SCP || pc.acceptedRole == ASC_SC_ROLE_SCUSCP;
    if (service == DimseService::Store && requester_is_scp &&
        access.allows(calling_, DimseService::Get))
      continue;
    ASC_refusePresentationContext(params_, pc.presentationContextID, ASC_P_USERREJECTION);
    if (service) denied.insert(service_name(*service));
  }
  for (const auto& service : denied)
    PACS_LOG(Warn) << "calling AE " << calling_ << " may not use " << service
                   << ": its presentation contexts are refused";
}

void Scp::notifyAssociationTermination() {
  if (stored_ + failed_ > 0)
    PACS_LOG(Info) << "association from " << calling_ << " ended: " << stored_ << " stored, "
                   << failed_ << " failed";
  // One record per association for what it brought (PS3.15 A.5.3.10, action C).
  if (!received_.empty())
    audit::record(audit::instances_transferred(
        true, failed_ ? 4 : 0, audit::remote(calling_, peer_address_, true),
        audit::node_participant(context_.options.aet, false), received_.studies()));
  received_.clear();
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
