// Where the data set starts in a Part 10 file, found without parsing the data set itself.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace pacs {

// Preamble (128), "DICM" (4) and the meta group's length element (12): what must be read first.
inline constexpr std::size_t kPart10HeadBytes = 144;

// The offset of the data set in a Part 10 file whose first kPart10HeadBytes are given: after the
// meta group, whose first element (0002,0000) gives its length (PS3.10 7.1; DCMTK and every
// conformant writer put it there). nullopt when the head is not such a file.
std::optional<std::size_t> part10_dataset_offset(std::span<const unsigned char> head);

// The Transfer Syntax UID (0002,0010) of a meta group given as its bytes (explicit VR little
// endian, from just after "DICM" up to the data set), without its padding. nullopt unless the
// bytes walk cleanly: group 0002 elements only, ending exactly at the end, the UID among them.
std::optional<std::string> part10_transfer_syntax(std::span<const unsigned char> meta_group);

}  // namespace pacs
