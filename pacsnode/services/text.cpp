#include "pacsnode/services/text.h"

namespace pacs {

std::vector<std::string> split(std::string_view s, char separator) {
  std::vector<std::string> out(1);
  for (char ch : s) {
    if (ch == separator) {
      out.emplace_back();
    } else {
      out.back().push_back(ch);
    }
  }
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && s[start] == ' ') ++start;
  return s.substr(start);
}

}  // namespace pacs
