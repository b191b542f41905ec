#include "pacsnode/services/store_status.h"

namespace pacs {

std::uint16_t store_status_for(const Error& error) {
  constexpr std::uint16_t kCannotUnderstand = 0xC000;
  switch (error.code) {
    case ErrorCode::Malformed:
      return kCannotUnderstand;
    case ErrorCode::InvalidObject:
      // A parsed object that lacks or contradicts its identifying attributes.
      return 0xA900;  // Error: data set does not match SOP class
    case ErrorCode::Duplicate:
      return 0x0111;  // Duplicate SOP Instance (PS3.7 C.4)
    case ErrorCode::StorageFailure:
    case ErrorCode::StorageFull:
    case ErrorCode::IndexUnavailable:
    case ErrorCode::Conflict:
      return 0xA700;  // Refused: out of resources
    case ErrorCode::InvalidArgument:
    case ErrorCode::NotFound:
      break;
  }
  return kCannotUnderstand;
}

}  // namespace pacs
