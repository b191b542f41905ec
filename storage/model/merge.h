// A patient merge as the journal keeps it: who went into whom, by whose word, what moved, and
// whether it was undone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pacs {

struct MergeRecord {
  std::int64_t id = 0;
  std::string prior_patient_id, prior_issuer;          // merged away (MRG-1)
  std::string surviving_patient_id, surviving_issuer;  // merged into (PID-3)
  std::string actor;                                   // "hl7 <sender>", "ris", an operator
  std::string state;                                   // applied, undone
  std::int64_t merged_ms = 0, undone_ms = 0;
  std::vector<std::string> study_uids;  // the studies it moved
  std::int64_t orders = 0;              // orders of the prior patient it moved
  std::int64_t worklist_items = 0;      // and their worklist items
  // True when the merge had been applied before (the prior patient is gone into the surviving
  // one, directly or along a chain): nothing was done again.
  bool already_applied = false;
};

}  // namespace pacs
