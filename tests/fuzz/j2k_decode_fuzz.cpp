// The JPEG 2000 decoder (codecs/j2k.cpp) on arbitrary bytes, as a stored or received J2K frame
// reaches it: no crash, and a frame it decodes encodes losslessly back to the same samples.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "codecs/j2k.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const unsigned char> bytes(data, size);
  auto layout = pacs::codecs::j2k_layout(bytes);
  if (!layout) return 0;
  // A header may declare any size; the node decodes into the buffer the data set's own
  // attributes size, so the fuzzer bounds it the same way instead of allocating gigabytes.
  constexpr std::size_t kMaxFrameBytes = 4 << 20;
  if (layout->bytes() > kMaxFrameBytes) return 0;
  std::vector<unsigned char> frame(layout->bytes());
  if (!pacs::codecs::decode_j2k(bytes, *layout, frame)) return 0;
  auto coded = pacs::codecs::encode_j2k(frame, *layout, {});
  if (!coded) std::abort();
  std::vector<unsigned char> again(layout->bytes());
  if (!pacs::codecs::decode_j2k(*coded, *layout, again) || again != frame) std::abort();
  return 0;
}
