#include "pacsnode/services/recovery.h"

#include <filesystem>
#include <limits>
#include <unordered_set>

#include "storage/model/log.h"

namespace pacs {

Result<RecoveryReport> drop_rows_without_durable_files(BlobStore& blobs, Index& index,
                                                       std::size_t rows) {
  auto latest = index.latest_instances(rows);
  if (!latest) return tl::unexpected(latest.error());
  RecoveryReport report;
  for (const StoredInstance& row : *latest) {
    ++report.checked;
    std::error_code ec;
    const auto size = std::filesystem::file_size(blobs.absolute(row.relative_path), ec);
    if (!ec && size == row.size_bytes) continue;
    PACS_LOG(Warn) << "recovery: instance " << row.sop_instance_uid
                   << " was indexed but its file did not survive; dropping the row";
    if (auto forgot = index.forget_instance(row.sop_instance_uid, row.relative_path); !forgot)
      return tl::unexpected(forgot.error());
    blobs.remove(row.relative_path);
    ++report.dropped;
  }
  return report;
}

Result<std::size_t> remove_orphan_files(BlobStore& blobs, Index& index) {
  auto rows = index.all_instances();
  if (!rows) return tl::unexpected(rows.error());
  std::unordered_set<std::string> indexed;
  for (const auto& row : *rows) indexed.insert(row.relative_path);
  // Files of removed instances wait in the purge queue for their grace period: not orphans.
  auto queued = index.due_purges(std::numeric_limits<std::int64_t>::max(), 0);
  if (!queued) return tl::unexpected(queued.error());
  for (const auto& purge : *queued) indexed.insert(purge.relative_path);
  std::size_t removed = 0;
  std::error_code ec;
  const auto objects = blobs.root() / "objects";
  for (auto it = std::filesystem::recursive_directory_iterator(objects, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string relative = std::filesystem::relative(it->path(), blobs.root(), ec).string();
    if (indexed.count(relative)) continue;
    blobs.remove(relative);
    ++removed;
  }
  if (ec)
    return fail(ErrorCode::StorageFailure, "cannot walk " + objects.string() + ": " + ec.message());
  return removed;
}

Result<RecoveryReport> recover_after_unclean_stop(BlobStore& blobs, Index& index,
                                                  bool sweep_orphans) {
  constexpr std::size_t kRowsToCheck = 1000;  // far more than objects in flight at any moment
  auto report = drop_rows_without_durable_files(blobs, index, kRowsToCheck);
  if (!report || !sweep_orphans) return report;
  auto orphans = remove_orphan_files(blobs, index);
  if (!orphans) return tl::unexpected(orphans.error());
  report->orphans_removed = *orphans;
  return report;
}

}  // namespace pacs
