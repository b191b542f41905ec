// The MLLP framer on an arbitrary byte stream cut into arbitrary reads: no crash, no delivered
// message holding a frame byte, never more held back than the limit, and every byte accounted for.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "hl7bridge/mllp_framer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // The first byte sets the limit, the second the read size; the rest is the stream.
  const std::size_t limit = 1 + data[0] * 4u;
  const std::size_t read_size = 1 + data[1] % 64u;
  const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);
  pacs::hl7::MllpFramer framer(limit);
  std::vector<std::string> messages;
  for (std::size_t at = 0; at < stream.size(); at += read_size) {
    framer.feed(stream.substr(at, read_size), messages);
    if (framer.buffered_bytes() > limit) std::abort();
  }
  std::size_t delivered = 0;
  for (const auto& m : messages) {
    if (m.find(pacs::hl7::kMllpStartBlock) != std::string::npos ||
        m.find(pacs::hl7::kMllpEndBlock) != std::string::npos || m.size() > limit)
      std::abort();
    delivered += m.size() + 2;  // with its VT and FS
  }
  // A delivered frame's CR may or may not have followed it.
  const std::size_t accounted = delivered + framer.discarded_bytes() + framer.buffered_bytes() +
                                (framer.state() == pacs::hl7::MllpFramer::State::InMessage);
  if (accounted > stream.size() || accounted + messages.size() < stream.size()) std::abort();
  return 0;
}
