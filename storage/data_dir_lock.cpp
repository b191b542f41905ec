#include "storage/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace pacs {
namespace {

// Opens a lock file, creating it and its folder if needed.
Result<int> open_lock_file(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec)
    return fail(ErrorCode::StorageFailure,
                "cannot create " + path.parent_path().string() + ": " + ec.message());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return fail(ErrorCode::StorageFailure,
                "cannot open " + path.string() + ": " + std::strerror(errno));
  return fd;
}

// flock without waiting; only a signal interrupts it then: try again, a bounded number of times.
int try_flock(int fd, int operation) {
  int rc = ::flock(fd, operation | LOCK_NB);
  for (int attempt = 0; rc != 0 && errno == EINTR && attempt < 100; ++attempt)
    rc = ::flock(fd, operation | LOCK_NB);
  return rc == 0 ? 0 : errno;
}

}  // namespace

Result<DataDirLock> DataDirLock::take(const std::filesystem::path& path, Mode mode,
                                      const std::string& held_elsewhere) {
  auto fd = open_lock_file(path);
  if (!fd) return tl::unexpected(fd.error());
  if (const int error = try_flock(*fd, mode == Mode::Shared ? LOCK_SH : LOCK_EX); error != 0) {
    ::close(*fd);
    if (error == EWOULDBLOCK) return fail(ErrorCode::Conflict, held_elsewhere);
    return fail(ErrorCode::StorageFailure,
                "cannot lock " + path.string() + ": " + std::strerror(error));
  }
  return DataDirLock(*fd, mode == Mode::Exclusive);
}

Result<DataDirLock> DataDirLock::acquire(const std::filesystem::path& root, Mode mode) {
  return take(
      root / "pacsnode.lock", mode,
      mode == Mode::Shared
          ? "the data directory " + root.string() + " is locked by pacsnode fsck"
          : "a pacsnode process is using the data directory " + root.string() + " (stop it first)");
}

Result<DataDirLock> DataDirLock::acquire_for_serving(const std::filesystem::path& root,
                                                     std::chrono::milliseconds wait) {
  const auto path = root / "pacsnode.lock";
  auto fd = open_lock_file(path);
  if (!fd) return tl::unexpected(fd.error());
  const auto deadline = std::chrono::steady_clock::now() + wait;
  // Bounded by the deadline.
  while (true) {
    int error = try_flock(*fd, LOCK_EX);
    if (error == 0) return DataDirLock(*fd, true);
    if (error == EWOULDBLOCK) error = try_flock(*fd, LOCK_SH);
    if (error == 0) return DataDirLock(*fd, false);
    if (error != EWOULDBLOCK) {
      ::close(*fd);
      return fail(ErrorCode::StorageFailure,
                  "cannot lock " + path.string() + ": " + std::strerror(error));
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::close(*fd);
  return fail(ErrorCode::Conflict, "the data directory " + root.string() +
                                       " stayed locked by pacsnode fsck or a node recovering");
}

Result<DataDirLock> DataDirLock::acquire_node_name(const std::filesystem::path& root,
                                                   const std::string& node) {
  return take(root / "nodes" / (node + ".lock"), Mode::Exclusive,
              "a node named " + node + " is already serving " + root.string() +
                  " (give each node its --node-name)");
}

Result<void> DataDirLock::share() {
  if (!exclusive_) return {};
  // Blocking, and not atomic (flock converts by unlocking first): at worst it waits for an fsck
  // that slipped in between.
  if (::flock(fd_, LOCK_SH) != 0)
    return fail(ErrorCode::StorageFailure,
                std::string("cannot share the data directory lock: ") + std::strerror(errno));
  exclusive_ = false;
  return {};
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace pacs
