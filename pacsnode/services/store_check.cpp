#include "pacsnode/services/store_check.h"

#include <filesystem>
#include <unordered_set>

#include "pacsnode/services/stored_file.h"

namespace pacs {
namespace fs = std::filesystem;
namespace {

// The regular files below root/sub, as paths relative to root; StorageFailure if the walk fails.
Result<std::vector<std::string>> files_below(const fs::path& root, const char* sub) {
  std::vector<std::string> out;
  std::error_code ec;
  const fs::path top = root / sub;
  if (!fs::exists(top, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(top, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) out.push_back(fs::relative(it->path(), root, ec).string());
  if (ec)
    return fail(ErrorCode::StorageFailure, "cannot walk " + top.string() + ": " + ec.message());
  return out;
}

// Moves an orphan to root/lost+found/ under the same relative path (one filesystem: a rename).
Result<void> move_to_lost_and_found(const fs::path& root, const std::string& relative) {
  const fs::path target = root / "lost+found" / relative;
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (!ec) fs::rename(root / relative, target, ec);
  if (ec)
    return fail(ErrorCode::StorageFailure,
                "cannot move " + relative + " to lost+found: " + ec.message());
  return {};
}

Result<void> check_instances(BlobStore& blobs, Index& index, bool repair,
                             const std::vector<StoredInstance>& rows, StoreCheckReport& report) {
  for (const StoredInstance& row : rows) {
    ++report.instances;
    const FileVerdict verdict = verify_stored_file(blobs, row);
    report.bytes += verdict.bytes;
    InstanceProblem problem{row.sop_instance_uid, row.relative_path, ""};
    switch (verdict.state) {
      case FileState::Intact:
        break;
      case FileState::Missing:
        report.missing_files.push_back(std::move(problem));
        break;
      case FileState::Unreadable:
        problem.detail = verdict.detail;
        report.missing_files.push_back(std::move(problem));
        break;
      case FileState::SizeMismatch:
        problem.detail = verdict.detail;
        report.size_mismatches.push_back(std::move(problem));
        break;
      case FileState::ChecksumMismatch:
        problem.detail = verdict.detail;
        report.checksum_mismatches.push_back(std::move(problem));
        break;
      case FileState::NoChecksum:
        report.without_checksum.push_back(std::move(problem));
        if (repair)
          if (auto set = index.set_instance_checksum(row.sop_instance_uid, row.relative_path,
                                                     verdict.checksum);
              !set)
            return set;
        break;
    }
  }
  return {};
}

}  // namespace

std::size_t StoreCheckReport::outstanding() const {
  std::size_t n = missing_files.size() + size_mismatches.size() + checksum_mismatches.size();
  if (!repaired)
    n += without_checksum.size() + orphan_files.size() + orphan_caches.size() + counts.size();
  return n;
}

Result<StoreCheckReport> check_store(BlobStore& blobs, Index& index, bool repair) {
  StoreCheckReport report;
  auto rows = index.all_instances();
  if (!rows) return tl::unexpected(rows.error());
  if (auto checked = check_instances(blobs, index, repair, *rows, report); !checked)
    return tl::unexpected(checked.error());

  std::unordered_set<std::string> indexed;
  for (const auto& row : *rows) indexed.insert(row.relative_path);
  auto objects = files_below(blobs.root(), "objects");
  if (!objects) return tl::unexpected(objects.error());
  for (const std::string& file : *objects) {
    if (indexed.count(file)) continue;
    report.orphan_files.push_back(file);
    if (repair)
      if (auto moved = move_to_lost_and_found(blobs.root(), file); !moved)
        return tl::unexpected(moved.error());
  }
  auto caches = files_below(blobs.root(), "cache");
  if (!caches) return tl::unexpected(caches.error());
  const std::string cache_prefix = "cache/", cache_suffix = ".json";
  for (const std::string& cache : *caches) {
    const bool named_as_cache =
        cache.size() > cache_prefix.size() + cache_suffix.size() &&
        cache.compare(cache.size() - cache_suffix.size(), cache_suffix.size(), cache_suffix) == 0;
    const std::string object =
        named_as_cache ? cache.substr(cache_prefix.size(),
                                      cache.size() - cache_prefix.size() - cache_suffix.size())
                       : "";
    if (indexed.count(object)) continue;
    report.orphan_caches.push_back(cache);
    if (repair) {
      std::error_code ec;
      fs::remove(blobs.root() / cache, ec);
    }
  }

  auto counts = index.verify_counts(repair);
  if (!counts) return tl::unexpected(counts.error());
  report.counts = std::move(*counts);
  report.repaired = repair;
  return report;
}

}  // namespace pacs
