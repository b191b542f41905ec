// Who is using a data directory: every serving node holds a shared lock on it, and `pacsnode
// fsck` an exclusive one, so that fsck never judges (or repairs) a store that is being written.
// Several nodes may serve one directory (a shared file system under a PostgreSQL index); each
// also holds the lock of its own name, so that two nodes never run under one name.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "storage/model/result.h"

namespace pacs {

class DataDirLock {
 public:
  enum class Mode { Shared, Exclusive };
  // Takes the lock on root/pacsnode.lock without waiting (creating both if needed); Conflict if
  // another process holds it in a way that excludes this mode. Released when this goes away, or by
  // the kernel when the process dies.
  static Result<DataDirLock> acquire(const std::filesystem::path& root, Mode mode);
  // For a serving node: exclusive when no other process uses the directory (the node may then do
  // what only a lone user may, such as removing files no index row names), else shared. Waits up
  // to `wait` while another process holds it exclusively (fsck, or a node recovering at its
  // start); Conflict after that.
  static Result<DataDirLock> acquire_for_serving(const std::filesystem::path& root,
                                                 std::chrono::milliseconds wait);
  // The lock of one node's name in root/nodes (exclusive, without waiting): Conflict while a
  // node of that name runs on this directory.
  static Result<DataDirLock> acquire_node_name(const std::filesystem::path& root,
                                               const std::string& node);

  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_), exclusive_(other.exclusive_) {
    other.fd_ = -1;
  }
  DataDirLock& operator=(DataDirLock&&) = delete;
  DataDirLock(const DataDirLock&) = delete;
  ~DataDirLock();

  bool exclusive() const { return exclusive_; }
  // An exclusive lock becomes shared, letting other nodes (and nothing exclusive) in.
  Result<void> share();

 private:
  DataDirLock(int fd, bool exclusive) : fd_(fd), exclusive_(exclusive) {}
  // Locks path (created if needed) in mode without waiting; Conflict with held_elsewhere if
  // another process holds it in a way that excludes the mode.
  static Result<DataDirLock> take(const std::filesystem::path& path, Mode mode,
                                  const std::string& held_elsewhere);
  int fd_ = -1;
  bool exclusive_ = false;
};

}  // namespace pacs
