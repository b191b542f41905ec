// `pacsnode fsck`: the blob store verified against the index, with the node stopped. Every row's
// file must exist with the recorded size and checksum, every object file must have its row, and
// the counts the index keeps for queries must match the rows. What can be fixed without losing or
// inventing data is fixed when asked; the rest is reported for an operator.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

struct InstanceProblem {
  std::string sop_instance_uid, relative_path, detail;
};

struct StoreCheckReport {
  std::size_t instances = 0;  // rows checked
  std::uint64_t bytes = 0;    // bytes read to verify checksums
  // Not repairable here: the acknowledged object is gone or changed; restore it from a copy.
  std::vector<InstanceProblem> missing_files, size_mismatches, checksum_mismatches;
  // Rows from before checksums were recorded: a repair records the file's checksum as it is now.
  std::vector<InstanceProblem> without_checksum;
  // Object files no row points to (an ingest cut short before its commit: never acknowledged). A
  // repair moves them to lost+found/ under the data directory rather than deleting them.
  std::vector<std::string> orphan_files;
  // Metadata caches of objects that are gone: derived data, removed by a repair.
  std::vector<std::string> orphan_caches;
  std::vector<CountMismatch> counts;  // repaired by recomputing them from the rows
  bool repaired = false;              // whether the repairable problems above were repaired

  // Problems that remain after this run.
  std::size_t outstanding() const;
};

Result<StoreCheckReport> check_store(BlobStore& blobs, Index& index, bool repair);

}  // namespace pacs
