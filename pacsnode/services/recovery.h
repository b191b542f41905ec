// Start-up check after an unclean stop: the index must not point at files that never became
// durable.
#pragma once

#include <cstddef>

#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

struct RecoveryReport {
  std::size_t checked = 0;
  std::size_t dropped = 0;          // rows whose file was missing or short: never acknowledged
  std::size_t orphans_removed = 0;  // files placed but never indexed: never acknowledged
};

// Ingest syncs a file and commits its index row side by side and acknowledges after both, so after
// a crash only the newest rows (at most one per in-flight object) can lack a durable file. This
// checks the newest `rows` rows and drops those whose file is missing or has the wrong size.
Result<RecoveryReport> drop_rows_without_durable_files(BlobStore& blobs, Index& index,
                                                       std::size_t rows);

// A crash between placing a file and committing its row leaves a file no row points to. This walks
// the whole store (cost grows with the archive: run only after an unclean stop) and removes them.
Result<std::size_t> remove_orphan_files(BlobStore& blobs, Index& index);

// Both of the above, in order; the second only with sweep_orphans. A node that shares the store
// with other live nodes must not sweep: their files between placing and indexing look the same.
Result<RecoveryReport> recover_after_unclean_stop(BlobStore& blobs, Index& index,
                                                  bool sweep_orphans);

}  // namespace pacs
