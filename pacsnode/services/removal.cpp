#include "pacsnode/services/removal.h"

#include <algorithm>
#include <vector>

#include "security/audit_event.h"
#include "security/audit_trail.h"
#include "storage/model/clock.h"
#include "storage/model/log.h"

namespace pacs {
namespace {

std::vector<audit::StudyRef> audit_studies(const RemovedObjects& removed) {
  std::vector<audit::StudyRef> out;
  for (const RemovedStudy& study : removed.by_study) {
    audit::StudyRef ref{study.study_uid, study.patient_id, {}};
    for (const auto& [sop_class, count] : study.sop_classes)
      ref.sop_classes.emplace_back(sop_class, count);
    out.push_back(std::move(ref));
  }
  return out;
}

}  // namespace

Remover::Remover(Index& index, BlobStore& blobs, std::string node_aet)
    : index_(index), blobs_(blobs), node_aet_(std::move(node_aet)) {}

Remover::~Remover() = default;

Result<RemovedObjects> Remover::remove(const RemovalTarget& target, const RemovalOrder& order,
                                       const std::string& requestor_address) {
  auto removed = index_.remove_objects(target, order);
  if (!removed) return removed;
  for (const RemovedStudy& study : removed->by_study) {
    int count = 0;
    for (const auto& [sop_class, n] : study.sop_classes) count += n;
    PACS_LOG(Info) << "removed " << count << " instance(s) of study " << study.study_uid
                   << (study.whole ? " (the whole study)" : "") << ": " << order.reason << ", by "
                   << order.actor;
  }
  audit::record(audit::study_deleted(0, audit::remote(order.actor, requestor_address, true),
                                     audit::node_participant(node_aet_, false),
                                     audit_studies(*removed)));
  if (order.purge_after_ms <= wall_clock_ms()) {
    // The rows are gone for good: a failure here only leaves files queued for the next purge.
    if (auto purged = purge_due(wall_clock_ms()); !purged)
      PACS_LOG(Warn) << "purge after a removal: " << purged.error().message
                     << " (the files stay queued)";
  } else {
    std::lock_guard lock(wake_mu_);
    next_due_ms_ = std::min(next_due_ms_, order.purge_after_ms);
    wake_.notify_all();
  }
  return removed;
}

Result<std::size_t> Remover::purge_due(std::int64_t now_ms) {
  std::lock_guard lock(purge_mu_);
  constexpr std::size_t kBatch = 500;
  constexpr int kMaxBatches = 100000;  // 50 million files: far beyond any one purge
  std::size_t removed = 0;
  for (int batch = 0; batch < kMaxBatches; ++batch) {
    auto due = index_.due_purges(now_ms, kBatch);
    if (!due) return tl::unexpected(due.error());
    if (due->empty()) break;
    std::vector<std::int64_t> done;
    done.reserve(due->size());
    for (const PendingPurge& purge : *due) {
      blobs_.remove(purge.relative_path);
      done.push_back(purge.id);
    }
    // A crash before this line repeats the removals above, which find nothing to remove.
    if (auto forgot = index_.forget_purges(done); !forgot) return tl::unexpected(forgot.error());
    removed += done.size();
    if (due->size() < kBatch) break;
  }
  if (removed > 0) PACS_LOG(Info) << "purged " << removed << " file(s) of removed instances";
  return removed;
}

void Remover::purge_in_background(std::chrono::milliseconds period) {
  worker_ = std::jthread([this, period](std::stop_token stop) {
    while (!stop.stop_requested()) {
      if (auto purged = purge_due(wall_clock_ms()); !purged)
        PACS_LOG(Warn) << "purge: " << purged.error().message << " (retried in "
                       << period.count() / 1000 << " s)";
      // Sleep until the earliest queued file falls due, at most a period; a removal that queues
      // an earlier one wakes the worker.
      std::int64_t wake_at = wall_clock_ms() + period.count();
      if (auto next = index_.next_purge_due(); next && *next) wake_at = std::min(wake_at, **next);
      std::unique_lock lock(wake_mu_);
      wake_at = std::min(wake_at, next_due_ms_);
      next_due_ms_ = INT64_MAX;
      const auto wait = std::chrono::milliseconds(
          std::clamp<std::int64_t>(wake_at - wall_clock_ms(), 0, period.count()));
      wake_.wait_for(lock, stop, wait, [&] { return next_due_ms_ != INT64_MAX; });
    }
  });
}

}  // namespace pacs
