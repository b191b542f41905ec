#include "pacsnode/services/stored_file.h"

#include <filesystem>
#include <system_error>

#include "storage/checksum.h"

namespace pacs {

FileVerdict verify_stored_file(const BlobStore& blobs, const StoredInstance& row) {
  FileVerdict verdict;
  const std::filesystem::path path = blobs.absolute(row.relative_path);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    verdict.state = FileState::Missing;
    verdict.detail = "no file at " + row.relative_path;
    return verdict;
  }
  // A size check first: a truncated file is told apart without reading it.
  if (size != row.size_bytes) {
    verdict.state = FileState::SizeMismatch;
    verdict.detail =
        "recorded " + std::to_string(row.size_bytes) + " bytes, file has " + std::to_string(size);
    return verdict;
  }
  auto checksum = file_checksum(path);
  if (!checksum) {
    verdict.state = FileState::Unreadable;
    verdict.detail = checksum.error().message;
    return verdict;
  }
  verdict.checksum = *checksum;
  verdict.bytes = size;
  if (row.checksum.empty()) {
    verdict.state = FileState::NoChecksum;
    verdict.detail = "no checksum recorded at ingest";
  } else if (*checksum != row.checksum) {
    verdict.state = FileState::ChecksumMismatch;
    verdict.detail = "recorded " + row.checksum + ", file has " + *checksum;
  } else {
    verdict.state = FileState::Intact;
  }
  return verdict;
}

}  // namespace pacs
