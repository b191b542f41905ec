#include "storage/model/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace pacs::log {
namespace {
std::atomic<Level> g_level{Level::Info};
std::mutex g_write_mu;
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
}  // namespace

void set_level(Level level) {
  g_level = level;
}
Level level() {
  return g_level;
}

bool parse_level(std::string_view text, Level& out) {
  constexpr std::string_view names[] = {"debug", "info", "warn", "error", "off"};
  for (int i = 0; i < 5; ++i)
    if (text == names[i]) {
      out = static_cast<Level>(i);
      return true;
    }
  return false;
}

void write(Level level, std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::lock_guard lock(g_write_mu);
  std::fprintf(stderr, "%s.%03dZ %-5s %.*s\n", stamp, static_cast<int>(millis),
               kNames[static_cast<int>(level)], static_cast<int>(message.size()), message.data());
}

}  // namespace pacs::log
