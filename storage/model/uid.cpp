#include "storage/model/uid.h"

namespace pacs {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument:
      return "invalid argument";
    case ErrorCode::Malformed:
      return "malformed";
    case ErrorCode::InvalidObject:
      return "invalid object";
    case ErrorCode::Duplicate:
      return "duplicate";
    case ErrorCode::NotFound:
      return "not found";
    case ErrorCode::StorageFailure:
      return "storage failure";
    case ErrorCode::StorageFull:
      return "storage full";
    case ErrorCode::IndexUnavailable:
      return "index unavailable";
    case ErrorCode::Conflict:
      return "conflict";
  }
  return "unknown";
}

Result<Uid> Uid::parse(std::string_view text) {
  while (!text.empty() && (text.back() == '\0' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty()) return fail(ErrorCode::InvalidArgument, "empty UID");
  if (text.size() > 64) return fail(ErrorCode::InvalidArgument, "UID longer than 64 characters");
  std::size_t component_start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      const std::size_t length = i - component_start;
      if (length == 0) return fail(ErrorCode::InvalidArgument, "UID has an empty component");
      if (length > 1 && text[component_start] == '0')
        return fail(ErrorCode::InvalidArgument, "UID component has a leading zero");
      component_start = i + 1;
    } else if (text[i] < '0' || text[i] > '9') {
      return fail(ErrorCode::InvalidArgument,
                  "UID contains a character other than digits and dots");
    }
  }
  return Uid(std::string(text));
}

}  // namespace pacs
