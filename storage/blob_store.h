// Instance files on the filesystem: written once to a temp file, renamed into place, synced.
#pragma once

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "storage/model/result.h"
#include "storage/model/uid.h"

namespace pacs {

// A file in the store's temp folder that is removed when this goes away, unless it was moved.
class TempFile {
 public:
  explicit TempFile(std::filesystem::path path) : path_(std::move(path)) {}
  TempFile(TempFile&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempFile& operator=(TempFile&&) = delete;
  TempFile(const TempFile&) = delete;
  ~TempFile();
  const std::filesystem::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::filesystem::path path_;
};

// StorageFull for a full disk or exhausted quota (ENOSPC, EDQUOT), else StorageFailure.
ErrorCode storage_error_code(int error_number);

class BlobStore {
 public:
  // Creates root/objects and root/tmp if needed, checks that both are writable, and removes
  // temp files a previous run left behind. always_sync_directories forces the directory sync
  // where the filesystem would not need it (see file_sync_covers_rename).
  static Result<std::unique_ptr<BlobStore>> open(const std::filesystem::path& root,
                                                 bool always_sync_directories = false);

  // A fresh, unique temp file name on the same filesystem as the objects (rename stays atomic).
  TempFile new_temp_file();

  // Moves a complete temp file to its place, derived from the validated UIDs only. Every placed
  // file gets a name of its own (SOP Instance UID plus a unique tag): two arrivals of one SOP
  // instance never write over each other, and an overwrite keeps the old file until the index
  // points to the new one. Returns the path relative to the root, as the index records it. The file
  // is durable once both sync_file() and sync_directory_of() returned (POSIX makes a new name
  // durable only through its directory; some filesystems do it with the file); they may run side by
  // side.
  Result<std::string> place(TempFile& temp, const Uid& study, const Uid& series, const Uid& sop);
  Result<void> sync_file(const std::string& relative_path);
  Result<void> sync_directory_of(const std::string& relative_path);

  std::filesystem::path absolute(const std::string& relative_path) const {
    return root_ / relative_path;
  }
  // Where a cache derived from the object (its metadata as JSON) lives: under root/cache, named
  // after the object, so an object replaced under a new name never meets a stale cache. Caches are
  // not synced; a reader rebuilds one that is missing or torn. remove() takes it with the object.
  std::filesystem::path cache_path(const std::string& relative_path) const {
    return root_ / "cache" / (relative_path + ".json");
  }
  void remove(const std::string& relative_path);
  const std::filesystem::path& root() const { return root_; }
  // The space on the store's filesystem that this process may still fill (nullopt if unknown).
  std::optional<std::uint64_t> free_bytes() const;

 private:
  explicit BlobStore(std::filesystem::path root) : root_(std::move(root)) {}
  Result<void> make_durable_directory(const std::filesystem::path& dir);

  std::filesystem::path root_;
  bool sync_directories_ = true;
  std::atomic<std::uint64_t> counter_{0};
  std::mutex dirs_mu_;
  std::set<std::filesystem::path> durable_dirs_;  // guarded by dirs_mu_
};

}  // namespace pacs
