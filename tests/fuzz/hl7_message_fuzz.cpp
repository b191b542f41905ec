// HL7 v2 parser and writer on arbitrary text: no crash, and what parses writes a message that
// parses again into the same text (the writer's output is a fixed point).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "hl7bridge/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto message = pacs::hl7::Message::parse(text);
  if (!message) return 0;
  const std::string written = message->write();
  auto again = pacs::hl7::Message::parse(written);
  if (!again || again->write() != written) std::abort();
  // The accessors every handler calls, on whatever parsed.
  (void)message->message_type();
  (void)message->trigger_event();
  (void)message->control_id();
  (void)message->version();
  (void)message->charset();
  for (const auto& segment : message->segments())
    for (std::size_t field = 1; field <= segment.field_count() + 1; ++field) {
      (void)segment.value(field, 2, 2, segment.repetition_count(field));
      (void)pacs::hl7::unescape(segment.raw(field), message->delimiters());
    }
  return 0;
}
