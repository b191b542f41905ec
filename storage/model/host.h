// This machine's host name, safe as part of a file name or log field: letters, digits, '.', '-' and
// '_' kept, anything else '-', at most 64 characters; "" when the system has none.
#pragma once

#include <unistd.h>

#include <cctype>
#include <cstring>
#include <string>

namespace pacs {

inline std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return {};
  std::string name(host, ::strnlen(host, 64));
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_') ch = '-';
  return name;
}

}  // namespace pacs
