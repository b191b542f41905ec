// What the index learns from a DICOM header: the per-level records and their attribute sets.
#pragma once

#include <string>

#include "storage/model/records.h"
#include "storage/model/result.h"

class DcmDataset;

namespace pacs {

// Builds the index entry from a header (pixel data need not be loaded). Fails with InvalidObject
// when the Study, Series or SOP Instance UID or the SOP Class UID is missing or malformed.
Result<IndexEntry> index_entry_from(DcmDataset& header, const std::string& transfer_syntax);

// A level's attributes as stored in the index: Explicit VR Little Endian, bulk data left out.
std::string encode_attributes(DcmDataset& attributes);
Result<void> decode_attributes(const std::string& bytes, DcmDataset& out);

}  // namespace pacs
