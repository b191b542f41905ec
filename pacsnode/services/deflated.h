// Deflated Explicit VR Little Endian objects are read from an inflated copy of their data set.
// DCMTK reads a deflated stream without random access, so it loads every value whatever its size
// and allocates whatever length an element claims: a few kilobytes that inflate to gigabytes, or
// claim a 4 GB value, would cost that much memory per object. Inflated to a file (bounded), the
// data set reads like any other: large values stay on disk, and lengths are checked against it.
#pragma once

#include <cstdint>
#include <filesystem>

#include "storage/model/result.h"

namespace pacs {

inline constexpr const char* kDeflatedExplicitLittleEndian = "1.2.840.10008.1.2.1.99";

// No deflated data set in practice (structured reports, waveforms) comes near this.
inline constexpr std::uint64_t kMaxInflatedDataSet = std::uint64_t{1} << 30;

// What a Part 10 file's first bytes and meta group say about its data set's encoding. Unclear
// when the meta group does not walk cleanly: then only DCMTK's own reading of it can tell.
enum class Deflation { Deflated, NotDeflated, Unclear };
struct DeflationCheck {
  Deflation kind = Deflation::Unclear;
  std::uint64_t data_set_offset = 0;  // where the deflated data set starts, when Deflated
};
DeflationCheck check_deflation(const std::filesystem::path& part10);

// Inflates the data set that starts at data_set_offset of the Part 10 file part10 into the new
// file inflated (raw Explicit VR Little Endian): Malformed when the deflate stream is broken or
// cut short, or inflates beyond max_size.
Result<void> inflate_data_set(const std::filesystem::path& part10, std::uint64_t data_set_offset,
                              const std::filesystem::path& inflated,
                              std::uint64_t max_size = kMaxInflatedDataSet);

}  // namespace pacs
