#include "pacsnode/services/retention.h"

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "storage/model/clock.h"
#include "storage/model/log.h"

namespace pacs {
namespace {

// Candidates fetched per plan: a run removes at most this many studies, the next run goes on.
constexpr std::size_t kMaxCandidates = 10000;
constexpr std::int64_t kDayMs = 86400000;

std::vector<std::string> split_modalities(const std::string& joined) {
  std::vector<std::string> out;
  std::istringstream in(joined);
  for (std::string m; std::getline(in, m, '\\');)
    if (!m.empty()) out.push_back(m);
  return out;
}

// The days the policy keeps this study for, or 0 when no age rule covers it.
unsigned keep_days_of(const RetentionPolicy& policy, const AgedStudy& study) {
  unsigned days = 0;
  for (const std::string& modality : split_modalities(study.modalities))
    if (const auto it = policy.keep_days_by_modality.find(modality);
        it != policy.keep_days_by_modality.end())
      days = std::max(days, it->second);
  return days > 0 ? days : policy.keep_days;
}

// The shortest period of any rule: no study younger than that can be due by age.
unsigned shortest_keep(const RetentionPolicy& policy) {
  unsigned days = policy.keep_days;
  for (const auto& [modality, d] : policy.keep_days_by_modality)
    days = days == 0 ? d : std::min(days, d);
  return days;
}

DiskUse disk_use_of(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto space = std::filesystem::space(dir, ec);
  if (ec) return {};
  return {space.capacity, space.available};
}

}  // namespace

unsigned DiskUse::percent_used() const {
  if (capacity_bytes == 0) return 0;
  return static_cast<unsigned>(100 * (capacity_bytes - std::min(available_bytes, capacity_bytes)) /
                               capacity_bytes);
}

std::string date_days_before(std::chrono::system_clock::time_point now, unsigned days) {
  const std::time_t then =
      std::chrono::system_clock::to_time_t(now - std::chrono::hours(24) * days);
  std::tm utc{};
  gmtime_r(&then, &utc);
  char text[16];
  std::strftime(text, sizeof text, "%Y%m%d", &utc);
  return text;
}

std::vector<RetentionVerdict> plan_retention(const RetentionPolicy& policy,
                                             const std::vector<AgedStudy>& candidates,
                                             std::int64_t now_ms, const DiskUse& disk) {
  std::vector<RetentionVerdict> out;
  std::vector<bool> chosen(candidates.size(), false);
  const auto now = std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms));
  // Age: Study Date before the study's cutoff; a study without one by when it arrived.
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const AgedStudy& study = candidates[i];
    const unsigned days = keep_days_of(policy, study);
    if (days == 0) continue;
    std::string reason;
    if (!study.study_date.empty()) {
      if (study.study_date < date_days_before(now, days))
        reason =
            "older than " + std::to_string(days) + " days (Study Date " + study.study_date + ")";
    } else if (study.received_ms > 0 && study.received_ms < now_ms - days * kDayMs) {
      reason = "received more than " + std::to_string(days) + " days ago (no Study Date)";
    }
    if (reason.empty()) continue;
    chosen[i] = true;
    out.push_back({study, reason, study.unsent});
  }
  // Disk: oldest first until the low mark, counting what age already removes.
  if (policy.disk_high_percent > 0 && disk.capacity_bytes > 0 &&
      disk.percent_used() >= policy.disk_high_percent) {
    const std::uint64_t used =
        disk.capacity_bytes - std::min(disk.available_bytes, disk.capacity_bytes);
    const std::uint64_t target = disk.capacity_bytes / 100 * policy.disk_low_percent;
    std::uint64_t freed = 0;
    for (const RetentionVerdict& v : out)
      if (!v.kept) freed += v.study.bytes;
    const std::string reason = "disk " + std::to_string(disk.percent_used()) + "% used (above " +
                               std::to_string(policy.disk_high_percent) + "%): oldest first to " +
                               std::to_string(policy.disk_low_percent) + "%";
    for (std::size_t i = 0; i < candidates.size() && used - std::min(freed, used) > target; ++i) {
      if (chosen[i]) continue;
      chosen[i] = true;
      out.push_back({candidates[i], reason, candidates[i].unsent});
      if (!candidates[i].unsent) freed += candidates[i].bytes;
    }
  }
  return out;
}

Retention::~Retention() = default;

Result<std::vector<RetentionVerdict>> Retention::plan() const {
  if (!policy_.any()) return std::vector<RetentionVerdict>{};
  const auto now = std::chrono::system_clock::now();
  const DiskUse disk = disk_use_of(blobs_.root());
  // Under disk pressure every study is a candidate; otherwise only those past the shortest rule.
  const bool pressed =
      policy_.disk_high_percent > 0 && disk.percent_used() >= policy_.disk_high_percent;
  const unsigned shortest = shortest_keep(policy_);
  const std::string before =
      pressed || shortest == 0 ? std::string("99999999") : date_days_before(now, shortest);
  // Studies without a Study Date sort first ("" < any date) and are judged by arrival.
  auto candidates = index_.studies_oldest_first(before, kMaxCandidates);
  if (!candidates) return tl::unexpected(candidates.error());
  return plan_retention(policy_, *candidates, wall_clock_ms(), disk);
}

Result<std::vector<RetentionVerdict>> Retention::run(const std::string& actor) {
  auto planned = plan();
  if (!planned) return planned;
  std::vector<RetentionVerdict> removed;
  std::size_t kept = 0;
  for (const RetentionVerdict& verdict : *planned) {
    if (verdict.kept) {
      ++kept;
      continue;
    }
    auto gone =
        remover_.remove({.level = RemovalLevel::Study, .study_uid = verdict.study.study_uid},
                        {.reason = "retention: " + verdict.reason, .actor = actor});
    if (gone) {
      removed.push_back(verdict);
    } else if (gone.error().code != ErrorCode::NotFound) {  // gone since the plan: fine
      return tl::unexpected(gone.error());
    }
  }
  if (!planned->empty())
    PACS_LOG(Info) << "retention: removed " << removed.size() << " stud(ies); kept " << kept
                   << " not yet forwarded";
  return removed;
}

void Retention::run_in_background(std::chrono::seconds period) {
  worker_ = std::jthread([this, period](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any never;
    while (!stop.stop_requested()) {
      if (auto ran = run("retention"); !ran)
        PACS_LOG(Warn) << "retention: " << ran.error().message << " (tried again in "
                       << period.count() << " s)";
      std::unique_lock lock(mu);
      never.wait_for(lock, stop, period, [] { return false; });
    }
  });
}

}  // namespace pacs
