// One association of the DIMSE face. The server builds a fresh Scp per association and runs it
// on a thread of its own; each service's handler lives in a file of its own (store, find, move,
// get, mpps, commitment).
#pragma once

#include <dcmtk/dcmnet/scpthrd.h>

#include <memory>
#include <string>
#include <vector>

#include "pacsnode/dimse/server.h"
#include "security/audit_event.h"

namespace pacs::dimse {

class CommitmentReporter;

struct Context {
  DimseOptions options;
  IngestService& ingest;
  QueryService& query;
  RetrieveService& retrieve;
  MppsService& mpps;
  CommitmentService& commitment;
  CommitmentReporter& reporter;
};

std::string trimmed(const char* text);
// The status detail of a refusal: its Error Comment (LO, cut to 64 characters).
std::unique_ptr<DcmDataset> error_comment(const std::string& why);
QueryModel model_of(const std::string& sop_class);
// Accepted transfer syntaxes of the storage classes, in preference order.
const std::vector<const char*>& storage_transfer_syntaxes();

class Scp : public DcmThreadSCP {
 public:
  explicit Scp(const Context& context) : context_(context) {}
  // C-GET sends on the requester's association and must see which contexts it accepted; DcmSCP
  // keeps its association private, so the server hands it over here too.
  void set_association(T_ASC_Association* association) { association_ = association; }

 protected:
  OFCondition handleIncomingCommand(T_DIMSE_Message* message,
                                    const DcmPresentationContextInfo& info) override;
  OFBool checkCalledAETitleAccepted(const OFString& called) override;
  OFBool checkCallingAETitleAccepted(const OFString& calling) override;
  OFBool checkCallingHostAccepted(const OFString& host) override;
  void notifyAssociationRequest(const T_ASC_Parameters& params, DcmSCPActionType& action) override;
  OFCondition negotiateAssociation() override;
  void notifyAssociationTermination() override;

 private:
  void accept_unknown_classes();
  // Audit records (PS3.15 A.5.3) of this association's transfers and queries.
  void audit_sent(const std::string& destination_aet, const std::string& destination_address,
                  const std::vector<RetrieveItem>& items, const SubOperations& counts);
  void audit_query(const std::string& sop_class, DcmDataset& identifier, bool answered);
  // Refuses the accepted presentation contexts of services the calling AE may not use.
  void refuse_denied_services();
  // The data set that follows a request's command on presentation context id.
  OFCondition receive_dataset(T_ASC_PresentationContextID id, std::unique_ptr<DcmDataset>& out);
  OFCondition handle_store(T_DIMSE_C_StoreRQ& request, T_ASC_PresentationContextID id);
  OFCondition handle_find(T_DIMSE_C_FindRQ& request, T_ASC_PresentationContextID id);
  OFCondition handle_move(T_DIMSE_C_MoveRQ& request, T_ASC_PresentationContextID id);
  OFCondition handle_get(T_DIMSE_C_GetRQ& request, T_ASC_PresentationContextID id);
  OFCondition handle_ncreate(T_DIMSE_N_CreateRQ& request, T_ASC_PresentationContextID id);
  OFCondition handle_nset(T_DIMSE_N_SetRQ& request, T_ASC_PresentationContextID id);
  OFCondition handle_naction(T_DIMSE_N_ActionRQ& request, T_ASC_PresentationContextID id);
  void audit_commitment(const CommitmentOutcome& outcome);

  const Context& context_;
  T_ASC_Association* association_ = nullptr;
  T_ASC_Parameters* params_ = nullptr;
  std::string calling_, peer_address_;
  AccessPolicy::Verdict verdict_ = AccessPolicy::Verdict::Accept;
  unsigned long stored_ = 0, failed_ = 0;
  audit::TransferTally received_;  // what C-STORE brought on this association
  Uint16 next_message_id_ = 1;     // of requests we send on this association (N-EVENT-REPORT)
};

}  // namespace pacs::dimse
