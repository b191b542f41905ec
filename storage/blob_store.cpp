#include "storage/blob_store.h"

#include "storage/model/host.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

namespace pacs {
namespace fs = std::filesystem;

ErrorCode storage_error_code(int error_number) {
  return error_number == ENOSPC || error_number == EDQUOT ? ErrorCode::StorageFull
                                                          : ErrorCode::StorageFailure;
}

namespace {

// fsync, not fdatasync: the rename changed the file's inode (ctime), and on ext4 and XFS the
// file's fsync commits the journal up to that change, which carries the new name.
Result<void> sync_path(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0)
    return fail(ErrorCode::StorageFailure,
                "cannot open " + path.string() + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0)
    return fail(storage_error_code(saved),
                "cannot sync " + path.string() + ": " + std::strerror(saved));
  return {};
}

std::string random_tag() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint32_t> d;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", d(rd));
  return buf;
}

// This host's name for temp file names (host_name() has no '@' or '/'): several hosts may share
// a store, and a process id means something only on its own host.
const std::string& host_tag() {
  static const std::string tag = host_name().empty() ? std::string("host") : host_name();
  return tag;
}

// Journalling filesystems whose fsync of a file also makes the file's latest rename durable: the
// rename is logged with the file's inode (ext4: its ctime change joins the running transaction,
// and fsync commits up to it; XFS: fsync forces the log up to the inode's last change). ext4
// without a journal (as on the machine the benchmarks ran on) is covered too: adding the name marks
// the inode as a new entry, and its fsync then writes the directory it was added to
// (ext4_sync_parent). On those, the directory sync that POSIX asks for repeats a cache flush and
// costs ~0.4 ms per object.
bool file_sync_covers_rename(const fs::path& dir) {
  struct statfs info {};
  if (::statfs(dir.c_str(), &info) != 0) return false;
  constexpr long kExt4Magic = 0xEF53, kXfsMagic = 0x58465342;
  return info.f_type == kExt4Magic || info.f_type == kXfsMagic;
}

}  // namespace

TempFile::~TempFile() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

Result<std::unique_ptr<BlobStore>> BlobStore::open(const fs::path& root,
                                                   bool always_sync_directories) {
  std::error_code ec;
  for (const char* sub : {"objects", "tmp"}) {
    fs::create_directories(root / sub, ec);
    if (ec)
      return fail(ErrorCode::StorageFailure,
                  "cannot create " + (root / sub).string() + ": " + ec.message());
    if (::access((root / sub).c_str(), W_OK) != 0)
      return fail(ErrorCode::StorageFailure,
                  "data directory " + (root / sub).string() + " is not writable");
  }
  // Temp files are named "<pid>@<host>@...": those of this host's processes that are gone are
  // leftovers of a crash; those of a live process (a node serving while an import runs) are
  // still being written, and another host's are its own business.
  for (const auto& entry : fs::directory_iterator(root / "tmp", ec)) {
    const std::string name = entry.path().filename().string();
    const int pid = std::atoi(name.c_str());
    const auto at = name.find('@');
    const bool ours = at == std::string::npos ||
                      name.compare(at + 1, host_tag().size() + 1, host_tag() + "@") == 0;
    if (ours && (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH))) fs::remove(entry.path(), ec);
  }
  auto store = std::unique_ptr<BlobStore>(new BlobStore(fs::absolute(root)));
  store->sync_directories_ = always_sync_directories || !file_sync_covers_rename(root / "objects");
  if (auto ok = store->make_durable_directory(store->root_ / "objects"); !ok)
    return tl::unexpected(ok.error());
  return store;
}

TempFile BlobStore::new_temp_file() {
  // The pid and a random tag keep names unique across processes sharing one store.
  static const std::string process_tag =
      std::to_string(::getpid()) + "@" + host_tag() + "@" + random_tag();
  return TempFile(root_ / "tmp" / (process_tag + "-" + std::to_string(counter_++) + ".part"));
}

// A directory's own entry is durable once its parent has been synced after it was created.
Result<void> BlobStore::make_durable_directory(const fs::path& dir) {
  {
    std::lock_guard lock(dirs_mu_);
    if (durable_dirs_.count(dir)) return {};
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return fail(ErrorCode::StorageFailure, "cannot create " + dir.string() + ": " + ec.message());
  if (dir != root_) {
    if (auto ok = make_durable_directory(dir.parent_path()); !ok) return ok;
    if (auto ok = sync_path(dir.parent_path(), true); !ok) return ok;
  }
  std::lock_guard lock(dirs_mu_);
  durable_dirs_.insert(dir);
  return {};
}

Result<std::string> BlobStore::place(TempFile& temp, const Uid& study, const Uid& series,
                                     const Uid& sop) {
  const fs::path relative_dir = fs::path("objects") / study.str() / series.str();
  static const std::string process_tag = random_tag();
  const std::string name = sop.str() + "." + process_tag + std::to_string(counter_++) + ".dcm";
  const fs::path dir = root_ / relative_dir;
  if (auto ok = make_durable_directory(dir); !ok) return tl::unexpected(ok.error());
  fs::path target = dir / name;
  // RENAME_NOREPLACE: a name clash (another process with the same tag) must fail, not overwrite.
  int attempts = 0;
  while (::renameat2(AT_FDCWD, temp.path().c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) !=
         0) {
    if (errno != EEXIST || ++attempts == 3)
      return fail(storage_error_code(errno),
                  "cannot move " + temp.path().string() + " into place: " + std::strerror(errno));
    target = dir / (sop.str() + "." + random_tag() + ".dcm");
  }
  const std::string name_used = target.filename().string();
  temp.release();
  return (relative_dir / name_used).string();
}

Result<void> BlobStore::sync_file(const std::string& relative_path) {
  return sync_path(root_ / relative_path, false);
}

Result<void> BlobStore::sync_directory_of(const std::string& relative_path) {
  if (!sync_directories_) return {};
  return sync_path((root_ / relative_path).parent_path(), true);
}

std::optional<std::uint64_t> BlobStore::free_bytes() const {
  struct statvfs info {};
  if (::statvfs(root_.c_str(), &info) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(info.f_bavail) * info.f_frsize;
}

void BlobStore::remove(const std::string& relative_path) {
  ::unlink((root_ / relative_path).c_str());
  ::unlink(cache_path(relative_path).c_str());
}

}  // namespace pacs
