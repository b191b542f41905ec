// Whether a stored instance's file still holds what the node acknowledged: present, of the size and
// with the checksum the index recorded at ingest. `pacsnode fsck` and storage commitment both ask,
// so the rule exists once.
#pragma once

#include <cstdint>
#include <string>

#include "storage/blob_store.h"
#include "storage/model/records.h"

namespace pacs {

enum class FileState {
  Intact,            // present, recorded size and checksum
  Missing,           // no file at the recorded path
  Unreadable,        // present but could not be read to the end
  SizeMismatch,      // another size than recorded (checksum not computed)
  NoChecksum,        // a row from before checksums were recorded: nothing to compare with
  ChecksumMismatch,  // the bytes changed since they were acknowledged
};

struct FileVerdict {
  FileState state = FileState::Missing;
  std::string detail;       // for anything but Intact: what differs, for a log line
  std::string checksum;     // the file's checksum as read now, when it was read
  std::uint64_t bytes = 0;  // bytes read to compute it
};

// Reads the whole file (bounded by its size) to compare checksums.
FileVerdict verify_stored_file(const BlobStore& blobs, const StoredInstance& row);

}  // namespace pacs
