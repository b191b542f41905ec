#include "storage/model/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "storage/model/json_text.h"

namespace pacs::log {
namespace {
std::atomic<Level> g_level{Level::Info};
std::atomic<Format> g_format{Format::Text};
std::mutex g_write_mu;
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
constexpr const char* kJsonNames[] = {"debug", "info", "warn", "error", "off"};
thread_local std::string t_context;

}  // namespace

Scope::Scope(const std::string& context) : previous_(std::move(t_context)) {
  t_context = context;
}

Scope::~Scope() {
  t_context = std::move(previous_);
}

void set_format(Format format) {
  g_format = format;
}

bool parse_format(std::string_view text, Format& out) {
  if (text == "text")
    out = Format::Text;
  else if (text == "json")
    out = Format::Json;
  else
    return false;
  return true;
}

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
  char time[48];
  std::snprintf(time, sizeof time, "%s.%03dZ", stamp, static_cast<int>(millis));
  std::string line;
  if (g_format == Format::Json) {
    line = std::string("{\"time\":\"") + time + "\",\"level\":\"" +
           kJsonNames[static_cast<int>(level)] + "\"";
    if (!t_context.empty()) line += ",\"context\":" + json_quoted(t_context);
    line += ",\"message\":" + json_quoted(message) + "}\n";
  } else {
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "%s %-5s ", time, kNames[static_cast<int>(level)]);
    line = prefix;
    if (!t_context.empty()) line += "[" + t_context + "] ";
    line.append(message);
    line += "\n";
  }
  std::lock_guard lock(g_write_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace pacs::log
