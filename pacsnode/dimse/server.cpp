#include "pacsnode/dimse/server.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scppool.h>
#include <dcmtk/dcmnet/scpthrd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <vector>

#include "pacsnode/dimse/status.h"
#include "storage/model/log.h"

namespace pacs::dimse {
namespace {

std::string trimmed(const char* text) {
  std::string s(text ? text : "");
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
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

OFList<OFString> as_oflist(const std::vector<const char*>& items) {
  OFList<OFString> list;
  for (const char* item : items) list.push_back(item);
  return list;
}

struct Context {
  DimseOptions options;
  IngestService& ingest;
  QueryService& query;
  RetrieveService& retrieve;
};

QueryModel model_of(const std::string& sop_class) {
  return sop_class == UID_FINDPatientRootQueryRetrieveInformationModel ||
                 sop_class == UID_MOVEPatientRootQueryRetrieveInformationModel ||
                 sop_class == UID_GETPatientRootQueryRetrieveInformationModel
             ? QueryModel::PatientRoot
             : QueryModel::StudyRoot;
}

const std::vector<const char*>& query_transfer_syntaxes() {
  static const std::vector<const char*> syntaxes = {UID_LittleEndianExplicitTransferSyntax,
                                                    UID_BigEndianExplicitTransferSyntax,
                                                    UID_LittleEndianImplicitTransferSyntax};
  return syntaxes;
}

// One association. DCMTK builds a fresh one per association on its worker thread.
class Scp : public DcmThreadSCP {
 public:
  explicit Scp(const Context& context) : context_(context) {}
  // C-GET sends on the requester's association and must see which contexts it accepted; DcmSCP
  // keeps its association private, so the pool hands it over here too.
  void set_association(T_ASC_Association* association) { association_ = association; }

 protected:
  OFCondition handleIncomingCommand(T_DIMSE_Message* message,
                                    const DcmPresentationContextInfo& info) override {
    if (message->CommandField == DIMSE_C_STORE_RQ)
      return handle_store(message->msg.CStoreRQ, info.presentationContextID);
    if (message->CommandField == DIMSE_C_FIND_RQ)
      return handle_find(message->msg.CFindRQ, info.presentationContextID);
    if (message->CommandField == DIMSE_C_MOVE_RQ)
      return handle_move(message->msg.CMoveRQ, info.presentationContextID);
    if (message->CommandField == DIMSE_C_GET_RQ)
      return handle_get(message->msg.CGetRQ, info.presentationContextID);
    return DcmThreadSCP::handleIncomingCommand(message, info);  // C-ECHO
  }

  OFBool checkCalledAETitleAccepted(const OFString& called) override {
    return trimmed(called.c_str()) == context_.options.aet;
  }

  OFBool checkCallingAETitleAccepted(const OFString& calling) override {
    const auto& allowed = context_.options.allowed_calling_aets;
    return allowed.empty() || allowed.count(trimmed(calling.c_str())) > 0;
  }

  void notifyAssociationRequest(const T_ASC_Parameters& params, DcmSCPActionType& action) override {
    params_ = const_cast<T_ASC_Parameters*>(&params);
    calling_ = trimmed(params.DULparams.callingAPTitle);
    DcmThreadSCP::notifyAssociationRequest(params, action);
  }

  OFCondition negotiateAssociation() override {
    OFCondition c = DcmThreadSCP::negotiateAssociation();
    if (c.good() && context_.options.accept_unknown_sop_classes && params_)
      accept_unknown_classes();
    return c;
  }

  void notifyAssociationTermination() override {
    if (stored_ + failed_ > 0)
      PACS_LOG(Info) << "association from " << calling_ << " ended: " << stored_ << " stored, "
                     << failed_ << " failed";
    stored_ = failed_ = 0;
    params_ = nullptr;
  }

 private:
  // Storage classes DCMTK does not know (private or newer ones) are accepted with the first
  // proposed syntax we store, as storescp --promiscuous does.
  void accept_unknown_classes() {
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

  OFCondition handle_store(T_DIMSE_C_StoreRQ& request, T_ASC_PresentationContextID id) {
    TempFile temp = context_.ingest.new_temp_file();
    OFCondition c = receiveSTORERequest(request, id, OFString(temp.path().c_str()));
    if (c.bad()) {
      // The association broke while the dataset streamed in: nothing to answer, nothing stored.
      PACS_LOG(Warn) << "C-STORE of " << trimmed(request.AffectedSOPInstanceUID) << " from "
                     << calling_ << " not received: " << c.text();
      ++failed_;
      return c;
    }
    const Announced announced{trimmed(request.AffectedSOPClassUID),
                              trimmed(request.AffectedSOPInstanceUID), calling_};
    auto stored = context_.ingest.ingest(std::move(temp), announced);
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

  OFCondition handle_find(T_DIMSE_C_FindRQ& request, T_ASC_PresentationContextID id) {
    DcmDataset* received = nullptr;
    OFCondition c = receiveFINDRequest(request, id, received);
    std::unique_ptr<DcmDataset> identifier(received);
    if (c.bad()) return c;
    const QueryModel model = model_of(trimmed(request.AffectedSOPClassUID));
    auto refuse = [&](Uint16 status, const std::string& why) {
      PACS_LOG(Warn) << "C-FIND from " << calling_ << " refused with status 0x" << std::hex
                     << status << std::dec << ": " << why;
      DcmDataset detail;
      detail.putAndInsertString(DCM_ErrorComment, why.substr(0, 64).c_str());
      return sendFINDResponse(id, request.MessageID, request.AffectedSOPClassUID, nullptr, status,
                              &detail);
    };
    auto parsed = context_.query.parse(*identifier, model);
    if (!parsed)
      return refuse(STATUS_FIND_Error_DataSetDoesNotMatchSOPClass, parsed.error().message);

    const Uint16 pending = parsed->unsupported_optional_keys
                               ? STATUS_FIND_Pending_WarningUnsupportedOptionalKeys
                               : STATUS_FIND_Pending_MatchesAreContinuing;
    bool cancelled = false;
    auto found = context_.query.find(*parsed, [&](DcmDataset& response) {
      // PS3.4 C.4.1.2.3: a C-CANCEL may come at any time; look for one between responses.
      if (checkForCANCEL(id, request.MessageID).good()) {
        cancelled = true;
        return false;
      }
      c = sendFINDResponse(id, request.MessageID, request.AffectedSOPClassUID, &response, pending);
      return c.good();
    });
    if (c.bad()) return c;  // the association broke while answering
    if (!found) return refuse(STATUS_FIND_Refused_OutOfResources, found.error().message);
    PACS_LOG(Info) << "C-FIND " << parsed->level_name << " from " << calling_ << ": "
                   << found->matches << " matches" << (cancelled ? " (cancelled)" : "");
    return sendFINDResponse(
        id, request.MessageID, request.AffectedSOPClassUID, nullptr,
        cancelled ? STATUS_FIND_Cancel_MatchingTerminatedDueToCancelRequest : STATUS_Success);
  }

  // PS3.4 C.4.2: sub-operations on a new association to the destination, pending responses with
  // the counts after each, a final status that sums them up.
  OFCondition handle_move(T_DIMSE_C_MoveRQ& request, T_ASC_PresentationContextID id) {
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
    const auto peer = context_.options.peers.find(destination);
    if (peer == context_.options.peers.end()) {
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
    const SendRequest send{context_.options.aet, destination,
                           peer->second,         calling_,
                           request.MessageID,    context_.options.timeout_seconds};
    const SubOperations counts = send_instances(send, *items, [&](const SubOperations& now) {
      if (checkForCANCEL(id, request.MessageID).good()) {
        cancelled = true;
        return false;
      }
      c = answer(STATUS_Pending, now, nullptr, "");
      return c.good();
    });
    if (c.bad()) return c;  // the requester's association broke
    PACS_LOG(Info) << "C-MOVE from " << calling_ << " to " << destination << ": "
                   << counts.completed << " sent, " << counts.failed << " failed, "
                   << counts.warning << " warnings" << (cancelled ? " (cancelled)" : "");
    const Uint16 status = final_retrieve_status(counts, cancelled);
    if (status == STATUS_Success) return answer(status, counts, nullptr, "");
    DcmDataset failed;
    put_failed_list(counts, failed);
    return answer(status, counts, &failed, "");
  }

  // PS3.4 C.4.3: like C-MOVE, but the C-STORE sub-operations go back on this association, on the
  // storage contexts the requester proposed with the SCP role for itself.
  OFCondition handle_get(T_DIMSE_C_GetRQ& request, T_ASC_PresentationContextID id) {
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
      if (**status == STATUS_Success) {
        ++counts.completed;
      } else if ((**status & 0xf000) == 0xb000) {
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
  tl::expected<std::optional<Uint16>, OFCondition> send_on_this_association(
      const RetrieveItem& item, bool& cancelled) {
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
      return std::optional<Uint16>(STATUS_STORE_Refused_SOPClassNotSupported);
    }
    DcmFileFormat file;
    DcmDataset* dataset = file.getDataset();
    const E_TransferSyntax target = DcmXfer(syntax.c_str()).getXfer();
    if (file.loadFile(item.file.c_str()).bad() ||
        (syntax != item.transfer_syntax && (dataset->chooseRepresentation(target, nullptr).bad() ||
                                            !dataset->canWriteXfer(target)))) {
      PACS_LOG(Warn) << "C-GET sub-operation for " << item.sop_instance_uid
                     << " failed: cannot read it or convert it to " << syntax;
      return std::optional<Uint16>(STATUS_STORE_Error_CannotUnderstand);
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
      if (response.CommandField == DIMSE_C_STORE_RSP)
        return std::optional<Uint16>(response.msg.CStoreRSP.DimseStatus);
      return tl::unexpected(DIMSE_BADCOMMANDTYPE);
    }
    return tl::unexpected(DIMSE_BADCOMMANDTYPE);
  }

  const Context& context_;
  T_ASC_Association* association_ = nullptr;
  Uint16 next_message_id_ = 1;
  T_ASC_Parameters* params_ = nullptr;
  std::string calling_;
  unsigned long stored_ = 0, failed_ = 0;
};

}  // namespace

// DCMTK's DcmSCPPool builds workers with a default constructor; this pool hands each worker the
// services it needs instead of going through a global.
class DimseServer::Pool : public DcmBaseSCPPool {
 public:
  Pool(DimseOptions options, IngestService& ingest, QueryService& query, RetrieveService& retrieve)
      : context_{std::move(options), ingest, query, retrieve} {}
  const Context& context() const { return context_; }

 protected:
  DcmBaseSCPWorker* createSCPWorker() override { return new Worker(*this, context_); }

 private:
  struct Worker : DcmBaseSCPWorker, private Scp {
    Worker(Pool& pool, const Context& context) : DcmBaseSCPWorker(pool), Scp(context) {}
    OFCondition setSharedConfig(const DcmSharedSCPConfig& config) override {
      return Scp::setSharedConfig(config);
    }
    OFBool busy() override { return Scp::isConnected(); }
    OFCondition workerListen(T_ASC_Association* const assoc) override {
      Scp::set_association(assoc);
      return Scp::run(assoc);
    }
  };

  Context context_;
};

void disable_nagle_for_dcmtk_sockets() {
  ::setenv("TCP_NODELAY", "1", 0);
}

DimseServer::DimseServer(DimseOptions options, IngestService& ingest, QueryService& query,
                         RetrieveService& retrieve)
    : pool_(std::make_unique<Pool>(std::move(options), ingest, query, retrieve)) {
  const DimseOptions& o = pool_->context().options;
  DcmSCPConfig& config = pool_->getConfig();
  config.setAETitle(o.aet.c_str());
  config.setPort(o.port);
  config.setMaxReceivePDULength(ASC_MAXIMUMPDUSIZE);
  // Non-blocking accept with a short timeout lets stop() take effect within a second.
  config.setConnectionBlockingMode(DUL_NOBLOCK);
  config.setConnectionTimeout(1);
  config.setACSETimeout(o.timeout_seconds);
  config.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  config.setDIMSETimeout(o.timeout_seconds);
  config.setHostLookupEnabled(OFFalse);
  pool_->setMaxThreads(static_cast<Uint16>(o.max_associations));

  const OFList<OFString> verification =
      as_oflist({UID_LittleEndianExplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
                 UID_LittleEndianImplicitTransferSyntax});
  config.addPresentationContext(UID_VerificationSOPClass, verification);
  for (const char* model : {UID_FINDPatientRootQueryRetrieveInformationModel,
                            UID_FINDStudyRootQueryRetrieveInformationModel,
                            UID_MOVEPatientRootQueryRetrieveInformationModel,
                            UID_MOVEStudyRootQueryRetrieveInformationModel,
                            UID_GETPatientRootQueryRetrieveInformationModel,
                            UID_GETStudyRootQueryRetrieveInformationModel})
    config.addPresentationContext(model, as_oflist(query_transfer_syntaxes()));
  const OFList<OFString> storage = as_oflist(storage_transfer_syntaxes());
  // SCU/SCP role: an ordinary C-STORE proposal (default role) is accepted as before, and a C-GET
  // requester that asks for the SCP role for itself gets it (dcmnet/dul.h role table).
  for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i)
    config.addPresentationContext(dcmAllStorageSOPClassUIDs[i], storage, ASC_SC_ROLE_SCUSCP);
}

DimseServer::~DimseServer() = default;

Result<void> DimseServer::run() {
  const DimseOptions& o = pool_->context().options;
  PACS_LOG(Info) << "DIMSE: AE " << o.aet << " listening on port " << o.port << " (up to "
                 << o.max_associations << " associations)";
  const OFCondition c = pool_->listen();
  if (c.bad() && c != NET_EC_StopAfterAssociation)
    return fail(ErrorCode::InvalidArgument,
                "DIMSE port " + std::to_string(o.port) + ": " + c.text());
  return {};
}

void DimseServer::stop() {
  pool_->stopAfterCurrentAssociations();
}

}  // namespace pacs::dimse
