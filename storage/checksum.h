// The checksum recorded for every stored object at ingest, so that `pacsnode fsck` (and later
// storage commitment) can tell a file that still holds what was acknowledged from one that rotted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "storage/model/result.h"

namespace pacs {

// CRC-32C (Castagnoli, as iSCSI, ext4 and Btrfs use for the same purpose): it catches every burst
// error up to 32 bits and, unlike a cryptographic hash, costs less than reading the file does (the
// CPU's crc32 instruction where there is one). It guards against rot, not against tampering.
std::uint32_t crc32c(std::uint32_t crc, std::span<const unsigned char> bytes);

// "crc32c:" and eight lower-case hex digits: the algorithm named, so that another can follow.
std::string format_checksum(std::uint32_t crc);

// The checksum of a whole file, read in blocks; StorageFailure if it cannot be read.
Result<std::string> file_checksum(const std::filesystem::path& path);

}  // namespace pacs
