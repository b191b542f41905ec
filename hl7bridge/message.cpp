// Parsing and writing HL7 v2 ER7 text, and the escape rules that apply inside fields.
#include "hl7bridge/message.h"

#include <ctime>

#include <algorithm>
#include <optional>

namespace pacs::hl7 {

namespace {

// Piece `index` (from 0) of `text` cut at `separator`, or nullopt when there are fewer pieces.
std::optional<std::string_view> piece(std::string_view text, char separator, std::size_t index) {
  std::size_t start = 0;
  // Bounded by `index`, and ends early at the last separator.
  for (std::size_t skipped = 0; skipped < index; ++skipped) {
    const auto next = text.find(separator, start);
    if (next == std::string_view::npos) return std::nullopt;
    start = next + 1;
  }
  const auto end = text.find(separator, start);
  return text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

// All pieces of `text` cut at `separator`; "" gives one empty piece, as "A|" gives two.
std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> pieces;
  std::size_t start = 0;
  // One pass per separator.
  for (auto end = text.find(separator); end != std::string_view::npos;
       end = text.find(separator, start)) {
    pieces.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  pieces.emplace_back(text.substr(start));
  return pieces;
}

bool is_upper_or_digit(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_alphanumeric(char c) {
  return is_upper_or_digit(c) || (c >= 'a' && c <= 'z');
}

// A delimiter must be visible ASCII punctuation: letters and digits are data, and spaces,
// control bytes and 8-bit bytes would be read differently by other parsers.
bool usable_as_delimiter(char c) {
  return c > ' ' && c < 0x7f && !is_alphanumeric(c);
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}
bool all_hex(std::string_view text) {
  return text.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}
bool all_of_chars(std::string_view text, std::string_view allowed) {
  return text.find_first_not_of(allowed) == std::string_view::npos;
}

Result<Delimiters> read_delimiters(std::string_view msh) {
  if (msh.size() < 4)
    return fail(ErrorCode::Malformed, "MSH is too short to carry MSH-1 and MSH-2");
  Delimiters delimiters;
  delimiters.field = msh[3];
  if (!usable_as_delimiter(delimiters.field))
    return fail(ErrorCode::Malformed,
                "MSH-1 (field separator) is not a printable non-alphanumeric character");
  const auto end = msh.find(delimiters.field, 4);
  const auto encoding = msh.substr(4, end == std::string_view::npos ? end : end - 4);
  if (encoding.size() < 4)
    return fail(ErrorCode::Malformed,
                "MSH-2 has " + std::to_string(encoding.size()) +
                    " encoding characters; 4 are required (component, repetition, escape, "
                    "subcomponent)");
  for (std::size_t i = 0; i < encoding.size(); ++i) {
    if (!usable_as_delimiter(encoding[i]))
      return fail(ErrorCode::Malformed, "MSH-2 encoding character " + std::to_string(i + 1) +
                                            " is not a printable non-alphanumeric character");
    if (encoding.find(encoding[i], i + 1) != std::string_view::npos)
      return fail(ErrorCode::Malformed, "MSH-2 repeats an encoding character");
  }
  delimiters.component = encoding[0];
  delimiters.repetition = encoding[1];
  delimiters.escape = encoding[2];
  delimiters.subcomponent = encoding[3];
  delimiters.extra = std::string(encoding.substr(4));
  return delimiters;
}

// Adds what the escape sequence `sequence` (the text between two escape characters) stands for;
// false when it is not a sequence this parser knows, so that the caller keeps it literally.
bool append_escape(std::string_view sequence, const Delimiters& delimiters, std::string& out) {
  if (sequence.size() == 1) {
    switch (sequence.front()) {
      case 'F':
        out += delimiters.field;
        return true;
      case 'S':
        out += delimiters.component;
        return true;
      case 'T':
        out += delimiters.subcomponent;
        return true;
      case 'R':
        out += delimiters.repetition;
        return true;
      case 'E':
        out += delimiters.escape;
        return true;
      case 'P':  // the truncation character exists only when MSH-2 declares one (v2.7+)
        if (delimiters.extra.empty()) return false;
        out += delimiters.extra.front();
        return true;
      case 'H':  // highlighting on/off: presentation only
      case 'N':
        return true;
      default:
        return false;
    }
  }
  if (sequence.empty()) return false;
  const std::string_view rest = sequence.substr(1);
  switch (sequence.front()) {
    case 'X':
      if (rest.empty() || rest.size() % 2 != 0 || !all_hex(rest)) return false;
      for (std::size_t i = 0; i < rest.size(); i += 2)
        out += static_cast<char>(hex_value(rest[i]) * 16 + hex_value(rest[i + 1]));
      return true;
    case 'Z':  // locally defined: nothing portable to decode
      return true;
    case 'C':  // ISO 2022 single-byte (Cxxyy) and multi-byte (Mxxyy[zz]) character-set switches:
    case 'M':  // the text is taken in the message's MSH-18 character set instead
      return all_hex(rest) && (rest.size() == 4 || (sequence.front() == 'M' && rest.size() == 6));
    case '.': {
      if (rest == "br") {
        out += '\n';
        return true;
      }
      // .sp[n]: end the line, then skip n lines (1 when n is absent).
      // Counts above 99 are capped: a sender cannot make one escape expand without bound.
      if (rest.starts_with("sp") && all_of_chars(rest.substr(2), "0123456789")) {
        const std::string_view count = rest.substr(2);
        std::size_t skipped = count.empty() ? 1 : 0;
        for (std::size_t i = 0; i < count.size() && skipped <= 99; ++i)
          skipped = skipped * 10 + static_cast<std::size_t>(count[i] - '0');
        out.append(1 + std::min<std::size_t>(skipped, 99), '\n');
        return true;
      }
      // Fill, no-fill, centre, indent, temporary indent, skip: layout without text.
      if (rest == "fi" || rest == "nf" || rest == "ce") return true;
      if ((rest.starts_with("in") || rest.starts_with("ti") || rest.starts_with("sk")) &&
          all_of_chars(rest.substr(2), "+-0123456789"))
        return true;
      return false;
    }
    default:
      return false;
  }
}

}  // namespace

std::string Delimiters::encoding_characters() const {
  std::string characters{component, repetition, escape, subcomponent};
  return characters + extra;
}

Segment::Segment(std::string id, Delimiters delimiters)
    : id_(std::move(id)), delimiters_(std::move(delimiters)) {
  if (is_msh()) fields_ = {std::string(1, delimiters_.field), delimiters_.encoding_characters()};
}

std::string_view Segment::raw(std::size_t field) const {
  if (field == 0 || field > fields_.size()) return {};
  return fields_[field - 1];
}

std::string Segment::value(std::size_t field, std::size_t component, std::size_t subcomponent,
                           std::size_t repetition) const {
  if (field == 0 || component == 0 || subcomponent == 0) return {};
  const std::string_view text = raw(field);
  if (is_msh() && field <= 2) {
    const bool whole_field = component == 1 && subcomponent == 1 && repetition == 0;
    return whole_field ? std::string(text) : std::string{};
  }
  const auto repeated = piece(text, delimiters_.repetition, repetition);
  if (!repeated) return {};
  const auto part = piece(*repeated, delimiters_.component, component - 1);
  if (!part) return {};
  const auto subpart = piece(*part, delimiters_.subcomponent, subcomponent - 1);
  if (!subpart) return {};
  return unescape(*subpart, delimiters_);
}

std::size_t Segment::repetition_count(std::size_t field) const {
  const std::string_view text = raw(field);
  if (text.empty()) return 0;
  if (is_msh() && field <= 2) return 1;
  std::size_t count = 1;
  for (const char c : text)
    if (c == delimiters_.repetition) ++count;
  return count;
}

void Segment::set(std::size_t field, std::string raw_escaped) {
  if (field == 0 || (is_msh() && field <= 2)) return;
  if (fields_.size() < field) fields_.resize(field);
  fields_[field - 1] = std::move(raw_escaped);
}

std::string Segment::write() const {
  std::string out = id_;
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    // MSH-1 is the separator itself and MSH-2 follows it directly.
    if (!(is_msh() && i < 2)) out += delimiters_.field;
    out += fields_[i];
  }
  return out;
}

Result<Segment> Message::parse_segment(std::string_view line, const Delimiters& delimiters,
                                       std::size_t number) {
  const std::string position = "segment " + std::to_string(number);
  if (line.size() < 3 || !is_upper_or_digit(line[0]) || !is_upper_or_digit(line[1]) ||
      !is_upper_or_digit(line[2]) || (line.size() > 3 && line[3] != delimiters.field))
    return fail(ErrorCode::Malformed, position +
                                          " does not start with a 3-character ID of uppercase "
                                          "letters and digits followed by the field separator");
  Segment segment(std::string(line.substr(0, 3)), delimiters);
  if (segment.is_msh() && line.size() < 4)
    return fail(ErrorCode::Malformed, position + " (MSH) is too short to carry MSH-1 and MSH-2");
  if (line.size() > 3) {
    segment.fields_ = split(line.substr(4), delimiters.field);
    // The first piece after "MSH|" is MSH-2: MSH-1 is the separator between them.
    if (segment.is_msh())
      segment.fields_.insert(segment.fields_.begin(), std::string(1, delimiters.field));
  }
  return segment;
}

Result<Message> Message::parse(std::string_view text) {
  std::optional<Message> message;
  std::size_t position = 0;
  std::size_t segment_number = 0;
  // Each pass consumes at least one byte (the line and its terminator), so the loop ends.
  while (position < text.size()) {
    const auto end = text.find_first_of("\r\n", position);
    const std::string_view line =
        text.substr(position, end == std::string_view::npos ? end : end - position);
    position = end == std::string_view::npos ? text.size() : end + 1;
    if (is_blank(line)) continue;  // CRLF, LFs between segments, trailing newlines
    ++segment_number;
    if (!message) {
      if (!line.starts_with("MSH"))
        return fail(ErrorCode::Malformed, "the message does not start with an MSH segment");
      auto delimiters = read_delimiters(line);
      if (!delimiters) return tl::unexpected(delimiters.error());
      message.emplace(std::move(*delimiters));
    }
    auto segment = parse_segment(line, message->delimiters_, segment_number);
    if (!segment) return tl::unexpected(segment.error());
    message->segments_.push_back(std::move(*segment));
  }
  if (!message) return fail(ErrorCode::Malformed, "empty message: no MSH segment");
  return std::move(*message);
}

std::string Message::write() const {
  std::string out;
  for (const Segment& segment : segments_) {
    out += segment.write();
    out += '\r';
  }
  return out;
}

const Segment* Message::find(std::string_view id, std::size_t occurrence) const {
  std::size_t seen = 0;
  for (const Segment& segment : segments_) {
    if (segment.id() != id) continue;
    if (seen == occurrence) return &segment;
    ++seen;
  }
  return nullptr;
}

std::vector<const Segment*> Message::all(std::string_view id) const {
  std::vector<const Segment*> found;
  for (const Segment& segment : segments_)
    if (segment.id() == id) found.push_back(&segment);
  return found;
}

Segment& Message::add(std::string id) {
  return segments_.emplace_back(std::move(id), delimiters_);
}

std::string Message::msh_value(std::size_t field, std::size_t component) const {
  const Segment* msh = find("MSH");
  return msh == nullptr ? std::string{} : msh->value(field, component);
}

std::string Message::message_type() const {
  return msh_value(9, 1);
}
std::string Message::trigger_event() const {
  return msh_value(9, 2);
}
std::string Message::control_id() const {
  return msh_value(10);
}
std::string Message::processing_id() const {
  return msh_value(11);
}
std::string Message::version() const {
  return msh_value(12);
}
std::string Message::charset() const {
  return msh_value(18);
}

std::string Message::sending_application() const {
  const Segment* msh = find("MSH");
  return msh == nullptr ? std::string{} : std::string(msh->raw(3));
}

std::string Message::sending_facility() const {
  const Segment* msh = find("MSH");
  return msh == nullptr ? std::string{} : std::string(msh->raw(4));
}

std::string unescape(std::string_view text, const Delimiters& delimiters) {
  std::string out;
  out.reserve(text.size());
  std::size_t position = 0;
  // Each pass consumes at least one character.
  while (position < text.size()) {
    const char c = text[position];
    if (c != delimiters.escape) {
      out += c;
      ++position;
      continue;
    }
    const auto close = text.find(delimiters.escape, position + 1);
    if (close != std::string_view::npos &&
        append_escape(text.substr(position + 1, close - position - 1), delimiters, out)) {
      position = close + 1;
      continue;
    }
    // Not a sequence: the escape character is plain text (a sender that did not escape a
    // backslash), and scanning resumes right after it so a real sequence next to it still counts.
    out += c;
    ++position;
  }
  return out;
}

std::string escape(std::string_view text, const Delimiters& delimiters) {
  std::string out;
  out.reserve(text.size());
  const auto sequence = [&](std::string_view code) {
    out += delimiters.escape;
    out += code;
    out += delimiters.escape;
  };
  for (const char c : text) {
    if (c == delimiters.field)
      sequence("F");
    else if (c == delimiters.component)
      sequence("S");
    else if (c == delimiters.subcomponent)
      sequence("T");
    else if (c == delimiters.repetition)
      sequence("R");
    else if (c == delimiters.escape)
      sequence("E");
    else if (!delimiters.extra.empty() && c == delimiters.extra.front())
      sequence("P");
    else if (c == '\r')
      sequence("X0D");
    else if (c == '\n')
      sequence("X0A");
    else
      out += c;
  }
  return out;
}

std::string hl7_timestamp_now() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[16];
  std::strftime(text, sizeof text, "%Y%m%d%H%M%S", &local);
  return text;
}

}  // namespace pacs::hl7
