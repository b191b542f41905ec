// Instance metadata as DICOM JSON, cached beside the store: a study's metadata then costs a small
// read per instance instead of a parse of every file on every request.
#pragma once

#include <string>

#include "pacsnode/services/retrieve.h"
#include "storage/model/result.h"

namespace pacs::web {

// The instance's header in DICOM JSON (text in UTF-8, bulk data as BulkDataURIs under
// instance_url). Served from the cache when a whole copy is there; otherwise built from the stored
// file, and cached for the next request.
Result<std::string> instance_metadata(const RetrieveItem& item, const std::string& instance_url);

}  // namespace pacs::web
