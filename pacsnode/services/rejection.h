// IHE IOCM (Imaging Object Change Management) rejection notes: a Key Object Selection document
// whose title is a rejection code ("Rejected for Quality Reasons", "Rejected for Patient Safety
// Reasons", "Incorrect Modality Worklist Entry", "Data Retention Policy Expired") rejects the
// instances it references. They leave queries and retrieves as the note is stored and their files
// are purged after a grace period; the note itself is kept, as IOCM asks.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pacsnode/services/removal.h"

class DcmItem;

namespace pacs {

struct RejectionNote {
  std::string code_value, code_meaning;  // the title, e.g. 113001 Rejected for Quality Reasons
  std::vector<RemovalTarget> instances;  // from Current Requested Procedure Evidence Sequence
};

// The note a dataset is, or nullopt when it is no rejection note (not a KOS, another title).
std::optional<RejectionNote> read_rejection_note(DcmItem& dataset);

class RejectionNotes {
 public:
  RejectionNotes(Remover& remover, std::chrono::seconds grace) : remover_(remover), grace_(grace) {}
  // Applies the note stored at `file` (a stored object of SOP class `sop_class_uid`, from
  // `sender`): its instances are removed, their files queued for purging after the grace period.
  // Instances already gone (a resent note, or never stored) are skipped. A failure (the index)
  // is returned, so the note's sender is not told it was stored before the rejection took hold.
  Result<void> apply(const std::filesystem::path& file, const std::string& sop_class_uid,
                     const std::string& sender);

 private:
  Remover& remover_;
  std::chrono::seconds grace_;
};

}  // namespace pacs
