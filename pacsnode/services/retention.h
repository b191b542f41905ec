// Retention: which stored studies have outlived the site's policy, and their removal. Rules go by
// age (Study Date, or arrival for objects without one), per modality where a site keeps some
// longer, and by disk use (oldest first once the data disk passes a high mark, down to a low
// one). A study whose forwarding to a routing destination is pending or failed is never removed:
// this node may hold the only copy. A dry run lists what would go and why.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pacsnode/services/removal.h"

namespace pacs {

struct RetentionPolicy {
  unsigned keep_days = 0;  // 0: no age rule for studies no modality rule covers
  // A study keeps for the longest period of its modalities that have one (CR=3650 keeps chest
  // films ten years while CT goes after keep_days).
  std::map<std::string, unsigned> keep_days_by_modality = {};
  unsigned disk_high_percent = 0;  // 0: no disk rule
  unsigned disk_low_percent = 0;   // removal under the disk rule stops here
  bool any() const {
    return keep_days > 0 || !keep_days_by_modality.empty() || disk_high_percent > 0;
  }
};

// The data disk as the disk rule sees it.
struct DiskUse {
  std::uint64_t capacity_bytes = 0, available_bytes = 0;
  unsigned percent_used() const;
};

struct RetentionVerdict {
  AgedStudy study = {};
  std::string reason = {};  // "older than 365 days (Study Date 20190101)", "disk 93% used"
  bool kept = false;        // a rule matched, but it is not yet forwarded
};

// What the policy says of the candidates (oldest first, as Index::studies_oldest_first lists
// them) at now_ms with the disk as it is. Pure: dry run and run share it.
std::vector<RetentionVerdict> plan_retention(const RetentionPolicy& policy,
                                             const std::vector<AgedStudy>& candidates,
                                             std::int64_t now_ms, const DiskUse& disk);

// The date `days` before `now` (UTC), as YYYYMMDD.
std::string date_days_before(std::chrono::system_clock::time_point now, unsigned days);

class Retention {
 public:
  Retention(Index& index, Remover& remover, const BlobStore& blobs, RetentionPolicy policy)
      : index_(index), remover_(remover), blobs_(blobs), policy_(std::move(policy)) {}
  ~Retention();
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  // What would go now, and why (nothing is removed).
  Result<std::vector<RetentionVerdict>> plan() const;
  // Removes what the plan names (not the kept ones); the verdicts of what went. `actor` names who
  // ran it in the audit record.
  Result<std::vector<RetentionVerdict>> run(const std::string& actor);
  // Runs every `period` until destroyed.
  void run_in_background(std::chrono::seconds period);

 private:
  Index& index_;
  Remover& remover_;
  const BlobStore& blobs_;
  RetentionPolicy policy_;
  std::jthread worker_;  // last member: stopped and joined first
};

}  // namespace pacs
