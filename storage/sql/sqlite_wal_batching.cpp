#include "storage/sql/sqlite_wal_batching.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <new>
#include <vector>

namespace pacs::sql {
namespace {

constexpr const char* kVfsName = "pacsnode-wal-batching";
// A transaction larger than this (a bulk load) is written in pieces of this size.
constexpr std::size_t kMaxGathered = 1 << 20;
// The most one write to the default VFS may carry: its unix write keeps only the low 17 bits of
// the length (SQLite never writes more than a 64 KB page at once), so a longer write would be cut.
constexpr std::size_t kMaxWrite = 120 * 1024;

std::atomic<std::uint64_t> writes_gathered{0};
std::atomic<std::uint64_t> writes_issued{0};

// Our file: the default VFS's file object follows it in the same allocation (szOsFile covers
// both), and every method forwards to it. Only a WAL file gathers writes.
struct BatchingFile {
  sqlite3_file base;
  sqlite3_file* real;
  bool is_wal;
  sqlite3_int64 gathered_at;    // file offset of gathered[0]
  std::vector<char>* gathered;  // the writes not yet issued, contiguous
  // The same connection's database file and WAL, each the other's while both are open. A write
  // transaction ends with a lock call on the database file's shared memory; the WAL's gathered
  // writes are issued before it, so none outlives the transaction that wrote it (a rolled-back
  // transaction's frames would otherwise land later on frames another connection committed).
  BatchingFile* wal_of_db;
  BatchingFile* db_of_wal;
};

sqlite3_vfs* default_vfs(sqlite3_vfs* vfs) {
  return static_cast<sqlite3_vfs*>(vfs->pAppData);
}
BatchingFile* self(sqlite3_file* file) {
  return reinterpret_cast<BatchingFile*>(file);
}
sqlite3_file* real(sqlite3_file* file) {
  return self(file)->real;
}
const sqlite3_io_methods& real_methods(sqlite3_file* file) {
  return *real(file)->pMethods;
}

// Puts the gathered writes in the file; every operation but a write calls this first.
int issue(sqlite3_file* file) {
  BatchingFile* f = self(file);
  if (!f->gathered || f->gathered->empty()) return SQLITE_OK;
  const std::vector<char>& gathered = *f->gathered;
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < gathered.size() && rc == SQLITE_OK; done += kMaxWrite) {
    const std::size_t size = std::min(kMaxWrite, gathered.size() - done);
    rc = real_methods(file).xWrite(f->real, gathered.data() + done, static_cast<int>(size),
                                   f->gathered_at + static_cast<sqlite3_int64>(done));
    writes_issued.fetch_add(1, std::memory_order_relaxed);
  }
  f->gathered->clear();
  return rc;
}

// Issues what the database file's WAL gathered; for a WAL or an unlinked file, nothing.
int issue_wal_of(sqlite3_file* file) {
  BatchingFile* wal = self(file)->wal_of_db;
  return wal ? issue(&wal->base) : SQLITE_OK;
}

int batching_close(sqlite3_file* file) {
  // What is not synced is not promised, yet a clean close still leaves the file as written.
  BatchingFile* f = self(file);
  const int issued = issue(file);
  const int rc = real_methods(file).xClose(f->real);
  if (f->db_of_wal) f->db_of_wal->wal_of_db = nullptr;
  if (f->wal_of_db) f->wal_of_db->db_of_wal = nullptr;
  delete f->gathered;
  f->gathered = nullptr;
  return rc != SQLITE_OK ? rc : issued;
}

int batching_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  if (const int rc = issue(file); rc != SQLITE_OK) return rc;
  return real_methods(file).xRead(real(file), out, amount, offset);
}

int batching_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  BatchingFile* f = self(file);
  if (!f->is_wal) return real_methods(file).xWrite(f->real, data, amount, offset);
  writes_gathered.fetch_add(1, std::memory_order_relaxed);
  std::vector<char>& gathered = *f->gathered;
  const auto size = static_cast<std::size_t>(amount);
  const bool continues =
      !gathered.empty() && offset == f->gathered_at + static_cast<sqlite3_int64>(gathered.size());
  if (!continues || gathered.size() + size > kMaxGathered || size > kMaxWrite) {
    if (const int rc = issue(file); rc != SQLITE_OK) return rc;
  }
  if (size > kMaxWrite) {  // never from SQLite's WAL code, which writes a page at most
    writes_issued.fetch_add(1, std::memory_order_relaxed);
    return real_methods(file).xWrite(f->real, data, amount, offset);
  }
  if (gathered.empty()) f->gathered_at = offset;
  const char* bytes = static_cast<const char*>(data);
  try {
    gathered.insert(gathered.end(), bytes, bytes + size);
  } catch (const std::bad_alloc&) {  // nothing may be thrown into SQLite
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

int batching_truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (const int rc = issue(file); rc != SQLITE_OK) return rc;
  return real_methods(file).xTruncate(real(file), size);
}

int batching_sync(sqlite3_file* file, int flags) {
  if (const int rc = issue(file); rc != SQLITE_OK) return rc;
  return real_methods(file).xSync(real(file), flags);
}

int batching_file_size(sqlite3_file* file, sqlite3_int64* size) {
  if (const int rc = issue(file); rc != SQLITE_OK) return rc;
  return real_methods(file).xFileSize(real(file), size);
}

int batching_lock(sqlite3_file* file, int level) {
  return real_methods(file).xLock(real(file), level);
}

int batching_unlock(sqlite3_file* file, int level) {
  if (const int rc = issue_wal_of(file); rc != SQLITE_OK) return rc;
  return real_methods(file).xUnlock(real(file), level);
}

int batching_check_reserved_lock(sqlite3_file* file, int* out) {
  return real_methods(file).xCheckReservedLock(real(file), out);
}

int batching_file_control(sqlite3_file* file, int op, void* arg) {
  if (const int rc = issue(file); rc != SQLITE_OK) return rc;
  return real_methods(file).xFileControl(real(file), op, arg);
}

int batching_sector_size(sqlite3_file* file) {
  return real_methods(file).xSectorSize(real(file));
}

int batching_device_characteristics(sqlite3_file* file) {
  return real_methods(file).xDeviceCharacteristics(real(file));
}

// Shared memory and memory mapping belong to the database file, which gathers nothing.
int batching_shm_map(sqlite3_file* file, int page, int page_size, int extend, void volatile** out) {
  if (real_methods(file).iVersion < 2) return SQLITE_IOERR_SHMMAP;
  return real_methods(file).xShmMap(real(file), page, page_size, extend, out);
}

int batching_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  if (real_methods(file).iVersion < 2) return SQLITE_IOERR_SHMLOCK;
  if (const int rc = issue_wal_of(file); rc != SQLITE_OK) return rc;
  return real_methods(file).xShmLock(real(file), offset, n, flags);
}

void batching_shm_barrier(sqlite3_file* file) {
  (void)issue_wal_of(file);  // before a commit is published; already issued by its sync
  if (real_methods(file).iVersion >= 2) real_methods(file).xShmBarrier(real(file));
}

int batching_shm_unmap(sqlite3_file* file, int delete_flag) {
  if (real_methods(file).iVersion < 2) return SQLITE_OK;
  if (const int rc = issue_wal_of(file); rc != SQLITE_OK) return rc;
  return real_methods(file).xShmUnmap(real(file), delete_flag);
}

int batching_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  if (real_methods(file).iVersion < 3) {
    *out = nullptr;
    return SQLITE_OK;
  }
  if (const int rc = issue(file); rc != SQLITE_OK) return rc;
  return real_methods(file).xFetch(real(file), offset, amount, out);
}

int batching_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  if (real_methods(file).iVersion < 3) return SQLITE_OK;
  return real_methods(file).xUnfetch(real(file), offset, page);
}

const sqlite3_io_methods kMethods = {
    3,
    batching_close,
    batching_read,
    batching_write,
    batching_truncate,
    batching_sync,
    batching_file_size,
    batching_lock,
    batching_unlock,
    batching_check_reserved_lock,
    batching_file_control,
    batching_sector_size,
    batching_device_characteristics,
    batching_shm_map,
    batching_shm_lock,
    batching_shm_barrier,
    batching_shm_unmap,
    batching_fetch,
    batching_unfetch,
};

int batching_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
                  int* out_flags) {
  BatchingFile* f = self(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->gathered_at = 0;
  f->gathered = nullptr;
  f->wal_of_db = nullptr;
  f->db_of_wal = nullptr;
  sqlite3_vfs* inner = default_vfs(vfs);
  const int rc = inner->xOpen(inner, name, f->real, flags, out_flags);
  // SQLite calls xClose whenever pMethods is set, even after a failed open; the default VFS's
  // file then needs its own close too.
  if (!f->real->pMethods) return rc;
  if (f->is_wal) f->gathered = new (std::nothrow) std::vector<char>();
  f->base.pMethods = &kMethods;
  if (rc == SQLITE_OK && f->is_wal && !f->gathered) return SQLITE_NOMEM;
  if (rc == SQLITE_OK && f->is_wal) {
    // SQLite names the WAL after its database and opens the database first, through this VFS.
    sqlite3_file* db = sqlite3_database_file_object(name);
    if (db && db->pMethods == &kMethods) {
      f->db_of_wal = self(db);
      self(db)->wal_of_db = f;
    }
  }
  return rc;
}

// Everything else about files and the system is the default VFS's.
int batching_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return default_vfs(vfs)->xDelete(default_vfs(vfs), name, sync_dir);
}
int batching_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return default_vfs(vfs)->xAccess(default_vfs(vfs), name, flags, out);
}
int batching_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return default_vfs(vfs)->xFullPathname(default_vfs(vfs), name, size, out);
}
void* batching_dl_open(sqlite3_vfs* vfs, const char* name) {
  return default_vfs(vfs)->xDlOpen(default_vfs(vfs), name);
}
void batching_dl_error(sqlite3_vfs* vfs, int size, char* out) {
  default_vfs(vfs)->xDlError(default_vfs(vfs), size, out);
}
void (*batching_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return default_vfs(vfs)->xDlSym(default_vfs(vfs), handle, symbol);
}
void batching_dl_close(sqlite3_vfs* vfs, void* handle) {
  default_vfs(vfs)->xDlClose(default_vfs(vfs), handle);
}
int batching_randomness(sqlite3_vfs* vfs, int size, char* out) {
  return default_vfs(vfs)->xRandomness(default_vfs(vfs), size, out);
}
int batching_sleep(sqlite3_vfs* vfs, int microseconds) {
  return default_vfs(vfs)->xSleep(default_vfs(vfs), microseconds);
}
int batching_current_time(sqlite3_vfs* vfs, double* out) {
  return default_vfs(vfs)->xCurrentTime(default_vfs(vfs), out);
}
int batching_get_last_error(sqlite3_vfs* vfs, int size, char* out) {
  return default_vfs(vfs)->xGetLastError(default_vfs(vfs), size, out);
}
int batching_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return default_vfs(vfs)->xCurrentTimeInt64(default_vfs(vfs), out);
}

sqlite3_vfs batching_vfs;

void register_vfs() {
  sqlite3_vfs* inner = sqlite3_vfs_find(nullptr);
  if (!inner) return;
  batching_vfs = sqlite3_vfs{};
  batching_vfs.iVersion = 2;
  batching_vfs.szOsFile = static_cast<int>(sizeof(BatchingFile)) + inner->szOsFile;
  batching_vfs.mxPathname = inner->mxPathname;
  batching_vfs.zName = kVfsName;
  batching_vfs.pAppData = inner;
  batching_vfs.xOpen = batching_open;
  batching_vfs.xDelete = batching_delete;
  batching_vfs.xAccess = batching_access;
  batching_vfs.xFullPathname = batching_full_pathname;
  batching_vfs.xDlOpen = batching_dl_open;
  batching_vfs.xDlError = batching_dl_error;
  batching_vfs.xDlSym = batching_dl_sym;
  batching_vfs.xDlClose = batching_dl_close;
  batching_vfs.xRandomness = batching_randomness;
  batching_vfs.xSleep = batching_sleep;
  batching_vfs.xCurrentTime = batching_current_time;
  batching_vfs.xGetLastError = batching_get_last_error;
  batching_vfs.xCurrentTimeInt64 =
      inner->iVersion >= 2 && inner->xCurrentTimeInt64 ? batching_current_time_int64 : nullptr;
  sqlite3_vfs_register(&batching_vfs, /*makeDflt=*/0);
}

}  // namespace

const char* wal_batching_vfs_name() {
  static std::once_flag once;
  std::call_once(once, register_vfs);
  return kVfsName;
}

WalBatchingCounts wal_batching_counts() {
  return {writes_gathered.load(std::memory_order_relaxed),
          writes_issued.load(std::memory_order_relaxed)};
}

}  // namespace pacs::sql
