// DICOM wildcard matching (PS3.4 C.2.2.2.4): '*' any run of characters, '?' exactly one.
#pragma once

#include <string_view>

namespace pacs {

bool wildcard_match(std::string_view pattern, std::string_view text);

}  // namespace pacs
