// A Storage Commitment Push Model SCU for tests (DCMTK 3.6.7 has no such tool): N-ACTION requests
// on one association, the N-EVENT-REPORT awaited on it, or taken on a new association the node
// opens to a loopback listener (as the SCU side of the class, accepting the node's SCP role).
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmnet/scu.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pacs::testing {

struct SopReference {
  std::string sop_class_uid, sop_instance_uid;
};

// What an N-EVENT-REPORT told, as the SCU read it.
struct CommitmentReportSeen {
  std::uint16_t event_type = 0;
  std::string transaction_uid;
  std::map<std::string, std::string> committed;  // SOP Instance UID -> Retrieve AE Title
  std::map<std::string, std::uint16_t> failed;   // SOP Instance UID -> Failure Reason
  // On a new association only: who called, and the role it proposed for itself.
  std::string calling_aet;
  T_ASC_SC_ROLE proposed_role = ASC_SC_ROLE_NONE;
};

// The Action Information of a well-formed request.
DcmDataset commitment_request(const std::string& transaction_uid,
                              const std::vector<SopReference>& references);

class CommitmentScu : public DcmSCU {
 public:
  // Associates as `aet` with PACSNODE at 127.0.0.1:port; throws when it cannot.
  explicit CommitmentScu(int port, const std::string& aet = "MODALITY");
  ~CommitmentScu() override;

  // The N-ACTION-RSP status, or -1 when none came. The command fields can be set wrong on purpose;
  // a null information sends the request without a data set.
  struct Action {
    std::string sop_class = "1.2.840.10008.1.20.1";
    std::string sop_instance = "1.2.840.10008.1.20.1.1";
    std::uint16_t action_type = 1;
  };
  int request(DcmDataset* information, const Action& action);
  int request(DcmDataset* information) { return request(information, Action{}); }
  // Waits for the N-EVENT-REPORT-RQ on this association and answers it with success.
  std::optional<CommitmentReportSeen> await_report();
  void release() { releaseAssociation(); }

 private:
  T_ASC_PresentationContextID context_ = 0;
  std::uint16_t next_message_id_ = 1;
};

// A loopback listener for reports on a new association: bound at construction (so a node may
// connect before await), served by await.
class CommitmentReportListener {
 public:
  // Port 0: one the kernel picks; otherwise that port (throws when it is taken).
  explicit CommitmentReportListener(int port = 0);
  ~CommitmentReportListener();
  CommitmentReportListener(const CommitmentReportListener&) = delete;
  CommitmentReportListener& operator=(const CommitmentReportListener&) = delete;
  int port() const { return port_; }
  // Takes one association, reads one N-EVENT-REPORT, answers success and waits for the release;
  // nullopt when nothing came within the timeout.
  std::optional<CommitmentReportSeen> await(int timeout_seconds);

 private:
  int listen_fd_ = -1;
  int port_ = 0;
};

}  // namespace pacs::testing
