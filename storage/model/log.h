// The node's logger: one line per event on stderr, with a level threshold. Objects are named by
// UID, never by patient name (PHI stays out of logs).
#pragma once

#include <sstream>
#include <string_view>

namespace pacs::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

void set_level(Level level);
Level level();
// "debug", "info", "warn", "error", "off"; returns false for anything else.
bool parse_level(std::string_view text, Level& out);
void write(Level level, std::string_view message);

// LOG(Info) << "stored " << uid;  the message is built only when the level is enabled.
class Line {
 public:
  explicit Line(Level level) : level_(level) {}
  Line(const Line&) = delete;
  ~Line() { write(level_, stream_.str()); }
  template <typename T>
  Line& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  Level level_;
  std::ostringstream stream_;
};

}  // namespace pacs::log

// A one-pass loop rather than an if/else, so the macro is safe inside an unbraced if.
#define PACS_LOG(LEVEL)                                                                       \
  for (bool pacs_log_once = ::pacs::log::Level::LEVEL >= ::pacs::log::level(); pacs_log_once; \
       pacs_log_once = false)                                                                 \
  ::pacs::log::Line(::pacs::log::Level::LEVEL)
