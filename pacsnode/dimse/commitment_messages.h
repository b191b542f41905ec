// Storage Commitment Push Model messages (PS3.4 J.3): the N-ACTION request checked and read into
// references, and the N-EVENT-REPORT that answers it, sent on an association and acknowledged.
// Shared by the SCP (same association) and the reporter (a new association).
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>
#include <tl/expected.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pacsnode/services/commitment.h"

class DcmDataset;

namespace pacs::dimse {

// More references than this in one N-ACTION are refused with 0213 (resource limitation): the
// node reads every referenced file before it reports, on the association's thread.
inline constexpr std::size_t kMaxCommitmentReferences = 10000;

struct CommitmentRequest {
  std::string transaction_uid;
  std::vector<ReferencedInstance> references;
};

// The N-ACTION status of a request (0000: received, to be reported) and, for a failure, why.
struct ActionVerdict {
  std::uint16_t status = 0;
  std::string why;
};

// Checks the N-ACTION's command (SOP class and instance, action type) and reads its Action
// Information into `out` (see docs/conformance.md for which status answers what).
ActionVerdict read_commitment_request(const T_DIMSE_N_ActionRQ& request, DcmDataset* information,
                                      CommitmentRequest& out);

// A finished commitment, ready to report to its requester.
struct CommitmentReport {
  std::string requester_aet;  // the calling AE of the N-ACTION: where a new association goes
  std::string transaction_uid;
  CommitmentOutcome outcome;
};

// Event Type ID: 1 every instance committed, 2 failures exist (PS3.4 J.3.3.1).
std::uint16_t event_type_of(const CommitmentOutcome& outcome);
// The Event Information: Transaction UID, the Referenced SOP Sequence of what was committed (each
// item with our AE title as Retrieve AE Title), the Failed SOP Sequence with Failure Reasons.
std::unique_ptr<DcmDataset> event_information(const CommitmentReport& report,
                                              const std::string& retrieve_aet);

// Sends the N-EVENT-REPORT-RQ on presentation context `context` and waits for its response; the
// response's status, or the condition that ended the exchange (the peer released, aborted, timed
// out, or sent something else).
tl::expected<std::uint16_t, OFCondition> send_event_report(
    T_ASC_Association* association, T_ASC_PresentationContextID context, std::uint16_t message_id,
    const CommitmentReport& report, const std::string& retrieve_aet, int timeout_seconds);

}  // namespace pacs::dimse
