// Request targets (path and query string): no crash, and decoding never makes text longer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dicomweb/url.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto target = pacs::web::parse_target(text)) {
    std::size_t total = 0;
    for (const auto& s : target->segments) total += s.size();
    for (const auto& [key, value] : target->query) total += key.size() + value.size();
    if (total > size) std::abort();
  }
  for (bool plus : {false, true})
    if (auto decoded = pacs::web::percent_decode(text, plus); decoded && decoded->size() > size)
      std::abort();
  return 0;
}
