// Stored objects in another transfer syntax: the one rule for what can be produced, and the one
// conversion, used by C-MOVE/C-GET/routing sub-operations and by WADO-RS/WADO-URI alike.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "storage/model/result.h"

class DcmFileFormat;

namespace pacs {

// Whether an object stored in `stored` can be sent in `wanted` ("*": as stored): the same syntax,
// or an uncompressed one that DCMTK converts to (decompressing with the registered decoders).
bool can_produce(const std::string& stored, const std::string& wanted);

// The stored file, loaded and converted to `syntax` (an uncompressed one, see can_produce).
// Fails with StorageFailure when the file cannot be read, InvalidObject when it cannot be
// converted.
Result<std::unique_ptr<DcmFileFormat>> load_converted(const std::filesystem::path& file,
                                                      const std::string& syntax);

}  // namespace pacs
