// Error values used across pacsnode: expected failures travel as values, not exceptions.
#pragma once

#include <string>
#include <tl/expected.hpp>

namespace pacs {

enum class ErrorCode {
  InvalidArgument,  // bad input from a caller (a UID that breaks the grammar, a bad URL)
  Malformed,        // bytes that do not parse as what they claim to be (truncated, garbage)
  InvalidObject,    // a parsed DICOM object we cannot accept (missing UIDs, mismatch)
  Duplicate,        // a duplicate SOP Instance UID refused by policy
  NotFound,
  StorageFailure,    // the blob store could not write or sync
  StorageFull,       // the data disk is full, or below the free space the node keeps
  IndexUnavailable,  // the index database failed or cannot be reached
  Conflict,          // a transient conflict (serialization failure, busy): retry may help
};

struct Error {
  ErrorCode code;
  std::string message;
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

const char* to_string(ErrorCode code);

}  // namespace pacs
