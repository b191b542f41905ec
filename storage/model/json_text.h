// Text as a JSON string literal (RFC 8259 7): quoted, with quotes, backslashes and control
// characters escaped. Bytes are kept as they are: the caller sees to UTF-8 where it matters.
#pragma once

#include <string>
#include <string_view>

namespace pacs {

std::string json_quoted(std::string_view text);

}  // namespace pacs
