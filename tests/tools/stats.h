// Summary figures of the test tools' timings.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace pacs::tools {

// Nearest-rank percentile of sorted values (p in (0, 100]).
inline double percentile(const std::vector<double>& sorted, double p) {
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

inline double median(const std::vector<double>& sorted) {
  const std::size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

// The line the timing tools print per operation in their time-bounded mode, which the load
// benchmark reads: "op=NAME count=N errors=E per_s=R p50_ms=X p95_ms=Y p99_ms=Z max_ms=M".
// N counts the operations that succeeded (their latencies, in ms); R is N over `seconds`. The
// latency figures are 0 when nothing succeeded.
inline std::string summary_line(std::string_view op, std::vector<double> latencies_ms, long errors,
                                double seconds) {
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const bool any = !latencies_ms.empty();
  char line[256];
  std::snprintf(line, sizeof line,
                "op=%.*s count=%zu errors=%ld per_s=%.1f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f "
                "max_ms=%.3f",
                static_cast<int>(op.size()), op.data(), latencies_ms.size(), errors,
                seconds > 0 ? static_cast<double>(latencies_ms.size()) / seconds : 0.0,
                any ? percentile(latencies_ms, 50) : 0.0, any ? percentile(latencies_ms, 95) : 0.0,
                any ? percentile(latencies_ms, 99) : 0.0, any ? latencies_ms.back() : 0.0);
  return line;
}

}  // namespace pacs::tools
