#include "storage/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pacs {

Result<DataDirLock> DataDirLock::acquire(const std::filesystem::path& root, Mode mode) {
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec)
    return fail(ErrorCode::StorageFailure, "cannot create " + root.string() + ": " + ec.message());
  const auto path = root / "pacsnode.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return fail(ErrorCode::StorageFailure,
                "cannot open " + path.string() + ": " + std::strerror(errno));
  const int operation = (mode == Mode::Shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  // Only a signal interrupts flock with LOCK_NB: try again, a bounded number of times.
  int rc = ::flock(fd, operation);
  for (int attempt = 0; rc != 0 && errno == EINTR && attempt < 100; ++attempt)
    rc = ::flock(fd, operation);
  if (rc != 0) {
    const int saved = errno;
    ::close(fd);
    if (saved == EWOULDBLOCK)
      return fail(ErrorCode::Conflict,
                  mode == Mode::Shared
                      ? "the data directory " + root.string() + " is locked by pacsnode fsck"
                      : "a pacsnode process is using the data directory " + root.string() +
                            " (stop it first)");
    return fail(ErrorCode::StorageFailure,
                "cannot lock " + path.string() + ": " + std::strerror(saved));
  }
  return DataDirLock(fd);
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace pacs
