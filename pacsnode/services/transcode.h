// Stored objects as they go out: in another transfer syntax, or with coerced patient attributes.
// The one rule for what can be produced, and the one conversion, used by C-MOVE/C-GET/routing
// sub-operations and by WADO-RS/WADO-URI alike.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "pacsnode/services/retrieve.h"
#include "storage/model/result.h"

class DcmFileFormat;

namespace pacs {

// Whether an object stored in `stored` can be sent in `wanted` ("*": as stored): the same syntax,
// or an uncompressed one that DCMTK converts to (decompressing with the registered decoders).
bool can_produce(const std::string& stored, const std::string& wanted);

// The stored object as it goes out: loaded, converted to `syntax` (the stored one, or an
// uncompressed one, see can_produce), with its patient attributes coerced when the item says so.
// Fails with StorageFailure when the file cannot be read, InvalidObject when it cannot be
// converted.
Result<std::unique_ptr<DcmFileFormat>> load_for_sending(const RetrieveItem& item,
                                                        const std::string& syntax);

// Whether the item can go out as its stored bytes in `syntax`.
inline bool sendable_as_stored(const RetrieveItem& item, const std::string& syntax) {
  return (syntax == "*" || syntax == item.transfer_syntax) && !item.patient_update;
}

}  // namespace pacs
