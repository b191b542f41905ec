// The DIMSE face's server: the SCP pool, its configuration and presentation contexts.
#include "pacsnode/dimse/server.h"

#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scppool.h>

#include <cstdlib>
#include <vector>

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

// DCMTK's DcmSCPPool builds workers with a default constructor; this pool hands each worker the
// services it needs instead of going through a global.
class DimseServer::Pool : public DcmBaseSCPPool {
 public:
  Pool(DimseOptions options, IngestService& ingest, QueryService& query, RetrieveService& retrieve,
       MppsService& mpps)
      : context_{std::move(options), ingest, query, retrieve, mpps} {}
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
      static auto& active = metrics::registry().gauge("pacsnode_dimse_associations_active",
                                                      "DICOM associations being served now");
      static auto& total = metrics::registry().counter(
          "pacsnode_dimse_associations_total", "DICOM associations taken (refused ones included)");
      total.add();
      active.add(1);
      // Every line about this association names it (the worker thread serves it to the end).
      static std::atomic<std::uint64_t> associations{0};
      log::Scope scope("assoc-" + std::to_string(++associations));
      Scp::set_association(assoc);
      const OFCondition c = Scp::run(assoc);
      active.add(-1);
      return c;
    }
  };

  Context context_;
};

void disable_nagle_for_dcmtk_sockets() {
  ::setenv("TCP_NODELAY", "1", 0);
}

DimseServer::DimseServer(DimseOptions options, IngestService& ingest, QueryService& query,
                         RetrieveService& retrieve, MppsService& mpps)
    : pool_(std::make_unique<Pool>(std::move(options), ingest, query, retrieve, mpps)) {
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
  if (o.tls) config.setTransportLayer(o.tls.get());
  pool_->setMaxThreads(static_cast<Uint16>(o.max_associations));

  const OFList<OFString> verification =
      as_oflist({UID_LittleEndianExplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
                 UID_LittleEndianImplicitTransferSyntax});
  config.addPresentationContext(UID_VerificationSOPClass, verification);
  config.addPresentationContext(UID_ModalityPerformedProcedureStepSOPClass,
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
  const DimseOptions& o = pool_->context().options;
  PACS_LOG(Info) << "DIMSE: AE " << o.aet << " listening on port " << o.port
                 << (o.tls ? " (TLS only)" : "") << " (up to " << o.max_associations
                 << " associations)";
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
