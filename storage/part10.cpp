#include "storage/part10.h"

#include <cstdint>
#include <string_view>

namespace pacs {

std::optional<std::size_t> part10_dataset_offset(std::span<const unsigned char> head) {
  if (head.size() < kPart10HeadBytes) return std::nullopt;
  if (std::string_view(reinterpret_cast<const char*>(head.data()) + 128, 4) != "DICM")
    return std::nullopt;
  const unsigned char* e = head.data() + 132;
  // (0002,0000) UL, explicit VR little endian, value length 4.
  if (!(e[0] == 0x02 && e[1] == 0 && e[2] == 0 && e[3] == 0 && e[4] == 'U' && e[5] == 'L' &&
        e[6] == 4 && e[7] == 0))
    return std::nullopt;
  const std::uint32_t length =
      e[8] | e[9] << 8 | e[10] << 16 | static_cast<std::uint32_t>(e[11]) << 24;
  return kPart10HeadBytes + std::size_t{length};
}

std::optional<std::string> part10_transfer_syntax(std::span<const unsigned char> meta_group) {
  const auto u16 = [&](std::size_t at) { return meta_group[at] | meta_group[at + 1] << 8; };
  std::optional<std::string> syntax;
  std::size_t at = 0;
  // Bounded: every pass moves past one element, or stops.
  while (at < meta_group.size()) {
    if (meta_group.size() - at < 8) return std::nullopt;
    const std::string_view vr(reinterpret_cast<const char*>(meta_group.data()) + at + 4, 2);
    // PS3.5 7.1.2: these VRs have two reserved bytes and a 32-bit length.
    const bool long_length = vr == "OB" || vr == "OD" || vr == "OF" || vr == "OL" || vr == "OV" ||
                             vr == "OW" || vr == "SQ" || vr == "SV" || vr == "UC" || vr == "UN" ||
                             vr == "UR" || vr == "UT" || vr == "UV";
    const std::size_t header = long_length ? 12 : 8;
    if (meta_group.size() - at < header || u16(at) != 0x0002) return std::nullopt;
    const std::size_t length =
        long_length ? u16(at + 8) | static_cast<std::size_t>(u16(at + 10)) << 16 : u16(at + 6);
    if (length > meta_group.size() - at - header) return std::nullopt;
    if (u16(at + 2) == 0x0010) {
      if (syntax) return std::nullopt;  // twice: not a clean meta group
      std::string_view value(reinterpret_cast<const char*>(meta_group.data()) + at + header,
                             length);
      while (!value.empty() && (value.back() == '\0' || value.back() == ' '))
        value.remove_suffix(1);
      syntax = std::string(value);
    }
    at += header + length;
  }
  return syntax;
}

}  // namespace pacs
