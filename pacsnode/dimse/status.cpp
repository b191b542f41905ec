#include "pacsnode/dimse/status.h"

#include <dcmtk/dcmnet/dimse.h>

namespace pacs::dimse {

std::uint16_t store_status_for(const Error& error) {
  switch (error.code) {
    case ErrorCode::Malformed:
      return STATUS_STORE_Error_CannotUnderstand;
    case ErrorCode::InvalidObject:
      // A parsed object that lacks or contradicts its identifying attributes.
      return STATUS_STORE_Error_DataSetDoesNotMatchSOPClass;
    case ErrorCode::Duplicate:
      return 0x0111;  // Duplicate SOP Instance (PS3.7 C.4)
    case ErrorCode::StorageFailure:
    case ErrorCode::IndexUnavailable:
    case ErrorCode::Conflict:
      return STATUS_STORE_Refused_OutOfResources;
    case ErrorCode::InvalidArgument:
    case ErrorCode::NotFound:
      break;
  }
  return STATUS_STORE_Error_CannotUnderstand;
}

}  // namespace pacs::dimse
