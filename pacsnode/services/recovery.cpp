#include "pacsnode/services/recovery.h"

#include <filesystem>

#include "storage/model/log.h"

namespace pacs {

Result<RecoveryReport> drop_rows_without_durable_files(BlobStore& blobs, Index& index,
                                                       std::size_t rows) {
  auto latest = index.latest_instances(rows);
  if (!latest) return tl::unexpected(latest.error());
  RecoveryReport report;
  for (const StoredInstance& row : *latest) {
    ++report.checked;
    std::error_code ec;
    const auto size = std::filesystem::file_size(blobs.absolute(row.relative_path), ec);
    if (!ec && size == row.size_bytes) continue;
    PACS_LOG(Warn) << "recovery: instance " << row.sop_instance_uid
                   << " was indexed but its file did not survive; dropping the row";
    if (auto forgot = index.forget_instance(row.sop_instance_uid, row.relative_path); !forgot)
      return tl::unexpected(forgot.error());
    blobs.remove(row.relative_path);
    ++report.dropped;
  }
  return report;
}

}  // namespace pacs
