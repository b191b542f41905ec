// Stored objects as they go out: in another transfer syntax, or with coerced patient attributes.
// The one rule for what can be produced, and the one conversion, used by C-MOVE/C-GET/routing
// sub-operations and by WADO-RS/WADO-URI alike.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pacsnode/services/retrieve.h"
#include "storage/model/result.h"

class DcmDataset;
class DcmFileFormat;

namespace pacs {

// Whether an object stored in `stored` can be sent in `wanted` ("*": as stored): the same syntax,
// or one the registered codecs (codecs/registry.h) convert to: any uncompressed syntax, and the
// compressed ones with an encoder, from any syntax with a decoder. This knows syntaxes only: an
// encoder may still refuse a pixel layout (8-bit JPEG baseline from 16-bit data, say), which
// convert() reports.
bool can_produce(const std::string& stored, const std::string& wanted);

// The lossless compressed syntaxes the node can produce, as fallbacks for receivers that accept
// neither the stored syntax nor an uncompressed one.
const std::vector<std::string>& lossless_compressed_syntaxes();

// Converts a data set's pixel data, loaded from a file in `stored` syntax, to `syntax`, through
// explicit little endian when both are compressed. InvalidObject when a codec refuses it.
Result<void> convert(DcmDataset& dataset, const std::string& stored, const std::string& syntax);

// The stored object as it goes out: loaded, converted to `syntax` (see can_produce), with its
// patient attributes coerced when the item says so. Fails with StorageFailure when the file
// cannot be read, InvalidObject when it cannot be converted.
Result<std::unique_ptr<DcmFileFormat>> load_for_sending(const RetrieveItem& item,
                                                        const std::string& syntax);

// Whether the item can go out as its stored bytes in `syntax`.
inline bool sendable_as_stored(const RetrieveItem& item, const std::string& syntax) {
  return (syntax == "*" || syntax == item.transfer_syntax) && !item.patient_update;
}

}  // namespace pacs
