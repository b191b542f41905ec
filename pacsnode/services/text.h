// Small string helpers for DICOM values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pacs {

// "a\b" -> {"a", "b"}; an empty input gives one empty item.
std::vector<std::string> split(std::string_view s, char separator);
// Removes leading spaces and trailing spaces and NULs (the padding of DICOM values).
std::string trim(std::string s);

}  // namespace pacs
