// Messages of the test tools: DCMTK's condition and reject texts span lines; outcomes must not.
#pragma once

#include <string>

namespace pacs::tools {

// The text with line breaks turned into spaces and trailing spaces removed.
inline std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace pacs::tools
