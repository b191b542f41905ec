// Wall-clock time in milliseconds since the epoch: what the index records in its *_ms columns.
#pragma once

#include <chrono>
#include <cstdint>

namespace pacs {

inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace pacs
