// Building ACK messages: MSH from the received header, MSA, and ERR in the received version's form.
#include "hl7bridge/ack.h"

#include <array>
#include <utility>

namespace pacs::hl7 {

namespace {

// What the ACK's MSH and MSA take from the message being answered, as raw (escaped) field text.
struct Answered {
  std::string application;  // received MSH-3
  std::string facility;     // received MSH-4
  std::string trigger;      // received MSH-9.2
  std::string processing_id;
  std::string version;
  std::string charset;     // received MSH-18, all repetitions
  std::string control_id;  // received MSH-10, for MSA-2
};

// ERR-1 (the ELD form) was replaced by ERR-2/ERR-3 in v2.5; earlier versions know only ERR-1.
bool uses_v25_err(std::string_view version) {
  if (!version.starts_with("2.")) return true;
  std::size_t minor = 0;
  std::size_t i = 2;
  for (; i < version.size() && i < 6 && version[i] >= '0' && version[i] <= '9'; ++i)
    minor = minor * 10 + static_cast<std::size_t>(version[i] - '0');
  return i == 2 || minor >= 5;
}

std::string location(const AckError& error, char component, const Delimiters& delimiters) {
  if (error.segment.empty()) return {};
  std::string text = escape(error.segment, delimiters) + component + std::to_string(error.sequence);
  if (error.field > 0) text += component + std::to_string(error.field);
  return text;
}

void add_err(Message& ack, AckCode code, const AckError& error, std::string_view version) {
  const Delimiters& delimiters = ack.delimiters();
  const std::string_view known = error_code_text(error.code);
  // The coded element carries the table's own description; the specific text goes to ERR-8/MSA-3.
  const std::string description = escape(known.empty() ? error.text : known, delimiters);
  Segment& err = ack.add("ERR");
  if (uses_v25_err(version)) {
    err.set(2, location(error, delimiters.component, delimiters));
    err.set(3, std::to_string(error.code) + delimiters.component + description +
                   delimiters.component + "HL70357");
    err.set(4, code == AckCode::AA ? "W" : "E");  // an accepted message can carry only warnings
    if (!error.text.empty()) err.set(8, escape(error.text, delimiters));
    return;
  }
  const char c = delimiters.component;
  const char s = delimiters.subcomponent;
  std::string eld = escape(error.segment, delimiters) + c;
  if (!error.segment.empty()) eld += std::to_string(error.sequence);
  eld += c;
  if (error.field > 0) eld += std::to_string(error.field);
  eld += c + std::to_string(error.code) + s + description + s + "HL70357";
  err.set(1, std::move(eld));
}

std::string build_ack(const Delimiters& delimiters, const Answered& answered, AckCode code,
                      const std::optional<AckError>& error, std::string_view ack_control_id,
                      std::string_view timestamp, std::string_view own_application,
                      std::string_view own_facility) {
  const std::string version = answered.version.empty() ? "2.5.1" : answered.version;
  Message ack(delimiters);
  {
    Segment& msh = ack.add("MSH");
    msh.set(3, escape(own_application, delimiters));
    msh.set(4, escape(own_facility, delimiters));
    msh.set(5, answered.application);
    msh.set(6, answered.facility);
    msh.set(7, escape(timestamp, delimiters));
    msh.set(9, std::string("ACK") + delimiters.component + answered.trigger + delimiters.component +
                   "ACK");
    msh.set(10, escape(ack_control_id, delimiters));
    msh.set(11, answered.processing_id.empty() ? std::string("P") : answered.processing_id);
    msh.set(12, version);
    if (!answered.charset.empty()) msh.set(18, answered.charset);
  }
  {
    Segment& msa = ack.add("MSA");
    msa.set(1, std::string(to_string(code)));
    msa.set(2, answered.control_id);
    if (error && !error->text.empty()) msa.set(3, escape(error->text, delimiters));
  }
  if (error) add_err(ack, code, *error, version);
  return ack.write();
}

// The raw MSH-10 of text that did not parse: the 10th piece of its first line cut at '|'.
std::string raw_control_id(std::string_view raw_text) {
  const std::string_view first_line = raw_text.substr(0, raw_text.find_first_of("\r\n"));
  if (!first_line.starts_with("MSH|")) return {};
  std::size_t start = 0;
  for (int skipped = 0; skipped < 9; ++skipped) {  // piece k of the split is MSH-(k+1)
    start = first_line.find('|', start);
    if (start == std::string_view::npos) return {};
    ++start;
  }
  const std::string_view id = first_line.substr(start, first_line.find('|', start) - start);
  // Bytes that are not visible text could break the ACK for the sender's parser.
  for (const char c : id)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return {};
  return std::string(id);
}

}  // namespace

std::string_view to_string(AckCode code) {
  switch (code) {
    case AckCode::AA:
      return "AA";
    case AckCode::AE:
      return "AE";
    case AckCode::AR:
      return "AR";
  }
  return "AR";
}

std::string_view error_code_text(int code) {
  static constexpr std::array<std::pair<int, std::string_view>, 14> kTable0357{{
      {0, "Message accepted"},
      {100, "Segment sequence error"},
      {101, "Required field missing"},
      {102, "Data type error"},
      {103, "Table value not found"},
      {104, "Value too long"},
      {200, "Unsupported message type"},
      {201, "Unsupported event code"},
      {202, "Unsupported processing id"},
      {203, "Unsupported version id"},
      {204, "Unknown key identifier"},
      {205, "Duplicate key identifier"},
      {206, "Application record locked"},
      {207, "Application internal error"},
  }};
  for (const auto& [value, text] : kTable0357)
    if (value == code) return text;
  return {};
}

std::string make_ack(const Message& received, AckCode code, const std::optional<AckError>& error,
                     std::string_view ack_control_id, std::string_view timestamp,
                     std::string_view own_application, std::string_view own_facility) {
  const Delimiters& delimiters = received.delimiters();
  Answered answered;
  if (const Segment* msh = received.find("MSH")) {
    answered.application = std::string(msh->raw(3));
    answered.facility = std::string(msh->raw(4));
    answered.control_id = std::string(msh->raw(10));
    answered.charset = std::string(msh->raw(18));
  }
  // Values re-escaped, because the ACK places them alone in a field or component.
  answered.trigger = escape(received.trigger_event(), delimiters);
  answered.processing_id = escape(received.processing_id(), delimiters);
  answered.version = escape(received.version(), delimiters);
  return build_ack(delimiters, answered, code, error, ack_control_id, timestamp, own_application,
                   own_facility);
}

std::string make_reject_for_unparseable(std::string_view raw_text, std::string_view reason,
                                        std::string_view ack_control_id, std::string_view timestamp,
                                        std::string_view own_application,
                                        std::string_view own_facility) {
  Answered answered;
  answered.control_id = raw_control_id(raw_text);
  answered.version = "2.5.1";
  AckError error;
  error.code = 100;
  error.text = std::string(reason);
  return build_ack(Delimiters{}, answered, AckCode::AR, error, ack_control_id, timestamp,
                   own_application, own_facility);
}

}  // namespace pacs::hl7
