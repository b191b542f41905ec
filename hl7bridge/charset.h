// MSH-18 (HL7 table 0211) character sets: the matching DICOM Specific Character Set, and text
// conversion to UTF-8 for the character sets the bridge decodes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "storage/model/result.h"

namespace pacs::hl7 {

// The DICOM Specific Character Set (0008,0005) term for an MSH-18 value: "" for the default
// repertoire (MSH-18 empty or "ASCII"), e.g. "ISO_IR 100" for "8859/1", "ISO_IR 192" for
// "UNICODE UTF-8"; nullopt for a value this bridge does not know. Surrounding spaces and letter
// case are ignored.
std::optional<std::string> dicom_charset(std::string_view msh18);

// The text `bytes`, declared by MSH-18 as `msh18`, as UTF-8. ASCII is checked (Malformed on a byte
// above 0x7F), ISO 8859-1 is converted byte for byte, UTF-8 is validated (Malformed on invalid or
// overlong sequences, surrogates and code points above U+10FFFF). Other character sets fail with
// InvalidArgument ("unsupported").
Result<std::string> to_utf8(std::string_view bytes, std::string_view msh18);

}  // namespace pacs::hl7
