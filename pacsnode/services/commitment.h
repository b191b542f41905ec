// Storage commitment (PS3.4 J.3): for each instance a requester asks the node to keep, whether the
// node really holds it as it was acknowledged. Knows the index and the blob store, no DIMSE: the
// DIMSE face turns the N-ACTION into a list of references and the outcome into an N-EVENT-REPORT.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

// Failure Reasons (0008,1197) of the Failed SOP Sequence (PS3.4 J.3.2.2.1).
inline constexpr std::uint16_t kCommitmentProcessingFailure = 0x0110;
inline constexpr std::uint16_t kCommitmentNoSuchInstance = 0x0112;
inline constexpr std::uint16_t kCommitmentClassInstanceConflict = 0x0119;

struct ReferencedInstance {
  std::string sop_class_uid, sop_instance_uid;
};

struct CommittedInstance {
  ReferencedInstance reference;
  std::string study_uid;  // for the audit record
};

struct FailedInstance {
  ReferencedInstance reference;
  std::uint16_t reason = kCommitmentProcessingFailure;
};

struct CommitmentOutcome {
  std::vector<CommittedInstance> committed;
  std::vector<FailedInstance> failed;
};

class CommitmentService {
 public:
  CommitmentService(Index& index, const BlobStore& blobs) : index_(index), blobs_(blobs) {}

  // Each reference is committed only when the index knows the instance under that SOP class and
  // its file is intact (present, recorded size and checksum); otherwise it fails with its reason.
  // Reads every referenced file once; bounded by the number of references.
  CommitmentOutcome commit(const std::string& transaction_uid,
                           const std::vector<ReferencedInstance>& references) const;

 private:
  Index& index_;
  const BlobStore& blobs_;
};

}  // namespace pacs
