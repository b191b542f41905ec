// The DIMSE face's server: the accept loop, its configuration and presentation contexts.
#include "pacsnode/dimse/server.h"

#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/scpcfg.h>

#include <atomic>
#include <cstdlib>
#include <list>
#include <system_error>
#include <thread>
#include <vector>

#include "pacsnode/dimse/commitment_reporter.h"
#include "pacsnode/dimse/scp.h"
#include "storage/model/log.h"
#include "storage/model/metrics.h"

namespace pacs::dimse {
namespace {

OFList<OFString> as_oflist(const std::vector<const char*>& items) {
  OFList<OFString> list;
  for (const char* item : items) list.push_back(item);
  return list;
}

const std::vector<const char*>& query_transfer_syntaxes() {
  static const std::vector<const char*> syntaxes = {UID_LittleEndianExplicitTransferSyntax,
                                                    UID_BigEndianExplicitTransferSyntax,
                                                    UID_LittleEndianImplicitTransferSyntax};
  return syntaxes;
}

}  // namespace

// The accept loop and one thread per association. DCMTK's DcmSCPPool is not used: its worker
// threads are never joined (each served association leaked a thread stack, two memory mappings,
// so a busy node hit vm.max_map_count after ~32,000 associations), a worker could be deleted by
// its own thread while the accepting thread still wrote to it, and a failed thread start ended
// its listen loop for good, silently closing the port.
class DimseServer::Listener {
 public:
  Listener(DimseOptions options, IngestService& ingest, QueryService& query,
           RetrieveService& retrieve, MppsService& mpps, CommitmentService& commitment)
      : reporter_(ReporterOptions{.own_aet = options.aet, .peers = options.peers}),
        context_{std::move(options), ingest, query, retrieve, mpps, commitment, reporter_} {}
  ~Listener() { join_sessions(/*only_finished=*/false); }

  const Context& context() const { return context_; }
  DcmSCPConfig& config() { return config_; }
  void stop() { stopping_ = true; }

  OFCondition listen() {
    const DcmSharedSCPConfig shared(config_);
    T_ASC_Network* network = nullptr;
    OFCondition c = ASC_initializeNetwork(NET_ACCEPTOR, static_cast<int>(config_.getPort()),
                                          static_cast<int>(config_.getACSETimeout()), &network);
    if (c.bad()) return c;
    const bool tls = config_.transportLayerEnabled();
    if (tls) c = ASC_setTransportLayer(network, config_.getTransportLayer(), 0);
    // Bounded by stop(): the accept below waits at most the connection timeout (1 s).
    while (c.good() && !stopping_) {
      join_sessions(/*only_finished=*/true);
      T_ASC_Association* assoc = nullptr;
      const OFCondition received = ASC_receiveAssociation(
          network, &assoc, config_.getMaxReceivePDULength(), nullptr, nullptr, tls,
          config_.getConnectionBlockingMode(), static_cast<int>(config_.getConnectionTimeout()));
      if (received == DUL_NOASSOCIATIONREQUEST) {
        ASC_destroyAssociation(&assoc);
      } else if (received.bad()) {
        PACS_LOG(Debug) << "DIMSE: a connection ended before its association request: "
                        << received.text();
        drop(assoc);
      } else {
        start_session(assoc, shared);
      }
    }
    join_sessions(/*only_finished=*/false);
    ASC_dropNetwork(&network);
    return c;
  }

 private:
  struct Session {
    std::unique_ptr<Scp> scp;
    std::thread thread;
    std::atomic<bool> finished{false};
  };

  void start_session(T_ASC_Association* assoc, const DcmSharedSCPConfig& shared) {
    if (sessions_.size() >= context_.options.max_associations) {
      PACS_LOG(Warn) << "DIMSE: " << sessions_.size()
                     << " associations already served; one more is refused";
      reject(assoc, ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
      return;
    }
    Session& session = sessions_.emplace_back();
    session.scp = std::make_unique<Scp>(context_);
    session.scp->setSharedConfig(shared);
    try {
      session.thread = std::thread([&session, assoc] {
        serve(*session.scp, assoc);
        session.finished = true;
      });
    } catch (const std::system_error& e) {
      PACS_LOG(Error) << "DIMSE: no thread for an association (" << e.what()
                      << "); refused, the port stays open";
      sessions_.pop_back();
      reject(assoc, ASC_REASON_SP_PRES_TEMPORARYCONGESTION);
    }
  }

  static void serve(Scp& scp, T_ASC_Association* assoc) {
    static auto& active = metrics::registry().gauge("pacsnode_dimse_associations_active",
                                                    "DICOM associations being served now");
    static auto& total = metrics::registry().counter(
        "pacsnode_dimse_associations_total", "DICOM associations taken (refused ones included)");
    total.add();
    active.add(1);
    // Every line about this association names it (this thread serves it to the end).
    static std::atomic<std::uint64_t> associations{0};
    log::Scope scope("assoc-" + std::to_string(++associations));
    scp.set_association(assoc);
    scp.run(assoc);  // DcmSCP releases or aborts the association and frees it
    active.add(-1);
  }

  // Joins the threads of ended associations, or of all of them (each ends when its peer
  // releases, aborts or stays silent past the DIMSE timeout).
  void join_sessions(bool only_finished) {
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (only_finished && !it->finished) {
        ++it;
        continue;
      }
      it->thread.join();
      it = sessions_.erase(it);
    }
  }

  static void reject(T_ASC_Association* assoc, T_ASC_RejectParametersReason reason) {
    T_ASC_RejectParameters rejection{ASC_RESULT_REJECTEDTRANSIENT,
                                     ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED, reason};
    ASC_rejectAssociation(assoc, &rejection);
    drop(assoc);
  }

  static void drop(T_ASC_Association* assoc) {
    if (!assoc) return;
    ASC_dropAssociation(assoc);
    ASC_destroyAssociation(&assoc);
  }

  CommitmentReporter reporter_;  // outlives every session (joined in ~Listener)
  Context context_;
  DcmSCPConfig config_;
  std::atomic<bool> stopping_{false};
  std::list<Session> sessions_;  // touched by the accepting thread only
};

void disable_nagle_for_dcmtk_sockets() {
  ::setenv("TCP_NODELAY", "1", 0);
}

DimseServer::DimseServer(DimseOptions options, IngestService& ingest, QueryService& query,
                         RetrieveService& retrieve, MppsService& mpps,
                         CommitmentService& commitment)
    : listener_(std::make_unique<Listener>(std::move(options), ingest, query, retrieve, mpps,
                                           commitment)) {
  const DimseOptions& o = listener_->context().options;
  DcmSCPConfig& config = listener_->config();
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
  if (o.tls) config.setTransportLayer(o.tls.get());

  const OFList<OFString> verification =
      as_oflist({UID_LittleEndianExplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
                 UID_LittleEndianImplicitTransferSyntax});
  config.addPresentationContext(UID_VerificationSOPClass, verification);
  config.addPresentationContext(UID_ModalityPerformedProcedureStepSOPClass,
                                as_oflist(query_transfer_syntaxes()));
  // Storage commitment: the requester is the SCU (default role); reports go back on this
  // association's context or on one we open (commitment_reporter.h).
  config.addPresentationContext(UID_StorageCommitmentPushModelSOPClass,
                                as_oflist(query_transfer_syntaxes()));
  for (const char* model :
       {UID_FINDPatientRootQueryRetrieveInformationModel,
        UID_FINDStudyRootQueryRetrieveInformationModel,
        UID_MOVEPatientRootQueryRetrieveInformationModel,
        UID_MOVEStudyRootQueryRetrieveInformationModel,
        UID_GETPatientRootQueryRetrieveInformationModel,
        UID_GETStudyRootQueryRetrieveInformationModel, UID_FINDModalityWorklistInformationModel})
    config.addPresentationContext(model, as_oflist(query_transfer_syntaxes()));
  const OFList<OFString> storage = as_oflist(storage_transfer_syntaxes());
  // SCU/SCP role: an ordinary C-STORE proposal (default role) is accepted as before, and a C-GET
  // requester that asks for the SCP role for itself gets it (dcmnet/dul.h role table).
  for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i)
    config.addPresentationContext(dcmAllStorageSOPClassUIDs[i], storage, ASC_SC_ROLE_SCUSCP);
}

DimseServer::~DimseServer() = default;

Result<void> DimseServer::run() {
  const DimseOptions& o = listener_->context().options;
  PACS_LOG(Info) << "DIMSE: AE " << o.aet << " listening on port " << o.port
                 << (o.tls ? " (TLS only)" : "") << " (up to " << o.max_associations
                 << " associations)";
  const OFCondition c = listener_->listen();
  if (c.bad())
    return fail(ErrorCode::InvalidArgument,
                "DIMSE port " + std::to_string(o.port) + ": " + c.text());
  return {};
}

void DimseServer::stop() {
  listener_->stop();
}

}  // namespace pacs::dimse
