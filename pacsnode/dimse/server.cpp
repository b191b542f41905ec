#include "pacsnode/dimse/server.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scppool.h>
#include <dcmtk/dcmnet/scpthrd.h>

#include <cstdlib>
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

 protected:
  OFCondition handleIncomingCommand(T_DIMSE_Message* message,
                                    const DcmPresentationContextInfo& info) override {
    if (message->CommandField == DIMSE_C_STORE_RQ)
      return handle_store(message->msg.CStoreRQ, info.presentationContextID);
    if (message->CommandField == DIMSE_C_FIND_RQ)
      return handle_find(message->msg.CFindRQ, info.presentationContextID);
    if (message->CommandField == DIMSE_C_MOVE_RQ)
      return handle_move(message->msg.CMoveRQ, info.presentationContextID);
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
                              trimmed(request.AffectedSOPInstanceUID)};
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
    if (!cancelled && counts.failed == 0 && counts.warning == 0)
      return answer(STATUS_Success, counts, nullptr, "");
    DcmDataset failed;
    std::string list;
    for (const auto& sop : counts.failed_sop_instances) list += (list.empty() ? "" : "\\") + sop;
    failed.putAndInsertString(DCM_FailedSOPInstanceUIDList, list.c_str());
    const Uint16 status = cancelled ? STATUS_MOVE_Cancel
                          : counts.completed == 0 && counts.warning == 0
                              ? STATUS_MOVE_Refused_OutOfResourcesSubOperations
                              : STATUS_MOVE_Warning_SubOperationsCompleteOneOrMoreFailures;
    return answer(status, counts, &failed, "");
  }

  const Context& context_;
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
    OFCondition workerListen(T_ASC_Association* const assoc) override { return Scp::run(assoc); }
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
                            UID_MOVEStudyRootQueryRetrieveInformationModel})
    config.addPresentationContext(model, as_oflist(query_transfer_syntaxes()));
  const OFList<OFString> storage = as_oflist(storage_transfer_syntaxes());
  for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i)
    config.addPresentationContext(dcmAllStorageSOPClassUIDs[i], storage);
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
