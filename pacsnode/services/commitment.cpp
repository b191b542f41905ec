#include "pacsnode/services/commitment.h"

#include "pacsnode/services/stored_file.h"
#include "storage/model/log.h"

namespace pacs {

CommitmentOutcome CommitmentService::commit(
    const std::string& transaction_uid, const std::vector<ReferencedInstance>& references) const {
  CommitmentOutcome outcome;
  for (const ReferencedInstance& reference : references) {
    const std::string& uid = reference.sop_instance_uid;
    auto failed = [&](std::uint16_t reason, const std::string& why) {
      PACS_LOG(Warn) << "storage commitment " << transaction_uid << ": " << uid
                     << " not committed (failure reason 0x" << std::hex << reason << std::dec
                     << "): " << why;
      outcome.failed.push_back({reference, reason});
    };
    auto row = index_.find_instance(uid);
    if (!row) {
      failed(kCommitmentProcessingFailure, "index: " + row.error().message);
      continue;
    }
    if (!*row) {
      failed(kCommitmentNoSuchInstance, "not stored here");
      continue;
    }
    if ((*row)->sop_class_uid != reference.sop_class_uid) {
      failed(kCommitmentClassInstanceConflict, "stored as SOP class " + (*row)->sop_class_uid +
                                                   ", referenced as " + reference.sop_class_uid);
      continue;
    }
    const FileVerdict verdict = verify_stored_file(blobs_, **row);
    switch (verdict.state) {
      case FileState::Intact:
        outcome.committed.push_back({reference, (*row)->study_uid});
        break;
      case FileState::NoChecksum:
        // Indexed before checksums were recorded: the bytes cannot be shown to be the ones that
        // were acknowledged, and a commitment is a promise about those. Recording the checksum
        // now would vouch for whatever the disk holds today; `pacsnode fsck --repair` does that
        // on an operator's decision, after which the instance commits.
        failed(kCommitmentProcessingFailure,
               "no checksum was recorded at ingest, so the file cannot be verified (an operator "
               "may record one with pacsnode fsck --repair)");
        break;
      default:
        failed(kCommitmentProcessingFailure, "stored file " + verdict.detail);
        break;
    }
  }
  return outcome;
}

}  // namespace pacs
