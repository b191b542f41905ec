// The node's logger: one line per event on stderr (text or JSON), with a level threshold and the
// context of the line (which association or request). Objects are named by UID, never by patient
// name (PHI stays out of logs).
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace pacs::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

void set_level(Level level);
Level level();
// "debug", "info", "warn", "error", "off"; returns false for anything else.
bool parse_level(std::string_view text, Level& out);
void write(Level level, std::string_view message);

// Text lines (the default), or one JSON object per line for log collectors.
enum class Format { Text, Json };
void set_format(Format format);
bool parse_format(std::string_view text, Format& out);

// What the lines written on this thread belong to (an association, a connection, a request) while
// the scope lives: "[assoc-12]" in text, "context" in JSON. Scopes nest; the inner one shows.
// Threads only: a coroutine must not hold one across a suspension (nor make one in its own body:
// GCC 12 mishandles such locals; make it in a plain function the coroutine calls).
class Scope {
 public:
  explicit Scope(const std::string& context);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  std::string previous_;
};

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
