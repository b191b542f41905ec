// Who is using a data directory: every serving node holds a shared lock on it, and `pacsnode
// fsck` an exclusive one, so that fsck never judges (or repairs) a store that is being written.
#pragma once

#include <filesystem>

#include "storage/model/result.h"

namespace pacs {

class DataDirLock {
 public:
  enum class Mode { Shared, Exclusive };
  // Takes the lock on root/pacsnode.lock without waiting (creating both if needed); Conflict if
  // another process holds it in a way that excludes this mode. Released when this goes away, or by
  // the kernel when the process dies.
  static Result<DataDirLock> acquire(const std::filesystem::path& root, Mode mode);

  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&&) = delete;
  DataDirLock(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace pacs
