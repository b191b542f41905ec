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

}  // namespace pacs
