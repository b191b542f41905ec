#include "pacsnode/app/fsck_command.h"

#include <cstdio>
#include <string>
#include <vector>

#include "pacsnode/services/store_check.h"
#include "storage/blob_store.h"
#include "storage/data_dir_lock.h"
#include "storage/index.h"
#include "storage/model/log.h"

namespace pacs {
namespace {

constexpr int kClean = 0, kRepaired = 1, kLeftUncorrected = 4, kOperationalError = 8;
// Per kind of problem: enough to act on, without flooding a terminal when a disk died.
constexpr std::size_t kShownPerKind = 100;

// Prints up to kShownPerKind lines of one kind of problem, then how many more there were.
template <typename T, typename Describe>
void print_kind(const std::vector<T>& items, const char* what, const char* outcome,
                Describe describe) {
  for (std::size_t i = 0; i < items.size() && i < kShownPerKind; ++i)
    std::printf("%s: %s%s\n", what, describe(items[i]).c_str(), outcome);
  if (items.size() > kShownPerKind)
    std::printf("%s: ... and %zu more\n", what, items.size() - kShownPerKind);
}

std::string describe_instance(const InstanceProblem& p) {
  return p.sop_instance_uid + "  " + p.relative_path +
         (p.detail.empty() ? "" : "  (" + p.detail + ")");
}

}  // namespace

int check_store_command(const Config& config, bool repair) {
  // Before the blob store opens: opening it tidies the temp folder, which a running node uses.
  auto lock = DataDirLock::acquire(config.data_dir, DataDirLock::Mode::Exclusive);
  if (!lock) {
    std::fprintf(stderr, "pacsnode fsck: %s\n", lock.error().message.c_str());
    return kOperationalError;
  }
  auto blobs = BlobStore::open(config.data_dir);
  if (!blobs) {
    std::fprintf(stderr, "pacsnode fsck: %s\n", blobs.error().message.c_str());
    return kOperationalError;
  }
  auto index = Index::open(config.db, config.data_dir);
  if (!index) {
    std::fprintf(stderr, "pacsnode fsck: %s\n", index.error().message.c_str());
    return kOperationalError;
  }
  std::printf("fsck of %s against %s%s\n", (*blobs)->root().c_str(), (*index)->describe().c_str(),
              repair ? ", repairing" : "");
  auto report = check_store(**blobs, **index, repair);
  if (!report) {
    std::fprintf(stderr, "pacsnode fsck: %s\n", report.error().message.c_str());
    return kOperationalError;
  }
  const StoreCheckReport& r = *report;
  print_kind(r.missing_files, "missing file", "", describe_instance);
  print_kind(r.size_mismatches, "size mismatch", "", describe_instance);
  print_kind(r.checksum_mismatches, "checksum mismatch", "", describe_instance);
  print_kind(r.without_checksum, "no checksum recorded", repair ? "  [recorded now]" : "",
             describe_instance);
  const auto as_is = [](const std::string& s) { return s; };
  print_kind(r.orphan_files, "file without index row", repair ? "  [moved to lost+found/]" : "",
             as_is);
  print_kind(r.orphan_caches, "cache without object", repair ? "  [removed]" : "", as_is);
  print_kind(r.counts, "wrong count", repair ? "  [corrected]" : "", [](const CountMismatch& m) {
    return m.entity + " " + m.field + ": recorded '" + m.recorded + "', actual '" + m.actual + "'";
  });
  const std::size_t found = r.missing_files.size() + r.size_mismatches.size() +
                            r.checksum_mismatches.size() + r.without_checksum.size() +
                            r.orphan_files.size() + r.orphan_caches.size() + r.counts.size();
  std::printf("checked %zu instances, %.1f MB read; %zu problems found, %zu outstanding\n",
              r.instances, static_cast<double>(r.bytes) / 1e6, found, r.outstanding());
  if (r.outstanding() > 0 && !repair &&
      r.outstanding() >
          r.missing_files.size() + r.size_mismatches.size() + r.checksum_mismatches.size())
    std::printf("run 'pacsnode fsck --repair' to repair what can be repaired\n");
  if (r.missing_files.size() + r.size_mismatches.size() + r.checksum_mismatches.size() > 0)
    std::printf("missing or changed objects cannot be repaired here: restore them from a copy\n");
  if (r.outstanding() > 0) return kLeftUncorrected;
  return found > 0 ? kRepaired : kClean;
}

}  // namespace pacs
