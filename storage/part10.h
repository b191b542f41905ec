// Where the data set starts in a Part 10 file, found without parsing the data set itself.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

namespace pacs {

// Preamble (128), "DICM" (4) and the meta group's length element (12): what must be read first.
inline constexpr std::size_t kPart10HeadBytes = 144;

// The offset of the data set in a Part 10 file whose first kPart10HeadBytes are given: after the
// meta group, whose first element (0002,0000) gives its length (PS3.10 7.1; DCMTK and every
// conformant writer put it there). nullopt when the head is not such a file.
std::optional<std::size_t> part10_dataset_offset(std::span<const unsigned char> head);

}  // namespace pacs
