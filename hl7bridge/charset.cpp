// Mapping MSH-18 to DICOM character-set terms, and decoding text to UTF-8.
#include "hl7bridge/charset.h"

#include <array>
#include <cstdint>
#include <utility>

#include "storage/model/utf8.h"

namespace pacs::hl7 {

namespace {

// MSH-18 trimmed and upper-cased: senders differ in case and padding, never in meaning.
std::string normalized(std::string_view msh18) {
  const auto first = msh18.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  const auto last = msh18.find_last_not_of(' ');
  std::string out(msh18.substr(first, last - first + 1));
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

// HL7 table 0211 values with a single-byte DICOM equivalent (PS3.3 C.12.1.1.2). Only the first
// five are named by the bridge's spec; the other ISO 8859 parts map just as directly.
constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kCharsets{{
    {"ASCII", ""},
    {"8859/1", "ISO_IR 100"},
    {"UNICODE UTF-8", "ISO_IR 192"},
    {"8859/2", "ISO_IR 101"},
    {"8859/5", "ISO_IR 144"},
    {"8859/3", "ISO_IR 109"},
    {"8859/4", "ISO_IR 110"},
    {"8859/6", "ISO_IR 127"},
    {"8859/7", "ISO_IR 126"},
    {"8859/8", "ISO_IR 138"},
    {"8859/9", "ISO_IR 148"},
    {"8859/15", "ISO_IR 203"},
}};

std::string hex_byte(unsigned char byte) {
  constexpr char kDigits[] = "0123456789ABCDEF";
  return std::string("0x") + kDigits[byte >> 4] + kDigits[byte & 0x0f];
}

Result<std::string> check_ascii(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    if (byte > 0x7f)
      return fail(ErrorCode::Malformed, "byte " + hex_byte(byte) + " at offset " +
                                            std::to_string(i) +
                                            " is not 7-bit ASCII, the character set MSH-18 names");
  }
  return std::string(bytes);
}

Result<std::string> latin1_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      out += c;
    } else {  // ISO 8859-1 byte b is code point U+00b: two UTF-8 bytes
      out += static_cast<char>(0xc0 | (byte >> 6));
      out += static_cast<char>(0x80 | (byte & 0x3f));
    }
  }
  return out;
}

Result<std::string> check_utf8(std::string_view bytes) {
  if (const std::size_t at = first_invalid_utf8(bytes); at != std::string_view::npos)
    return fail(ErrorCode::Malformed, "invalid UTF-8 at offset " + std::to_string(at));
  return std::string(bytes);
}

}  // namespace

std::optional<std::string> dicom_charset(std::string_view msh18) {
  const std::string name = normalized(msh18);
  if (name.empty()) return std::string{};
  for (const auto& [hl7_name, dicom_term] : kCharsets)
    if (name == hl7_name) return std::string(dicom_term);
  return std::nullopt;
}

Result<std::string> to_utf8(std::string_view bytes, std::string_view msh18) {
  const std::string name = normalized(msh18);
  if (name.empty() || name == "ASCII") return check_ascii(bytes);
  if (name == "8859/1") return latin1_to_utf8(bytes);
  if (name == "UNICODE UTF-8") return check_utf8(bytes);
  // The name is configuration-like text from the sender, not patient data: it may be quoted.
  return fail(ErrorCode::InvalidArgument,
              "character set \"" + std::string(msh18.substr(0, 64)) + "\" is unsupported");
}

}  // namespace pacs::hl7
