// Instance metadata as DICOM JSON, cached beside the store: a study's metadata then costs a small
// read per instance instead of a parse of every file on every request.
#pragma once

#include <string>

#include "pacsnode/services/retrieve.h"
#include "storage/model/result.h"

namespace pacs::web {

// An instance's metadata in the cached form: DICOM JSON (text in UTF-8) with its bulk data URIs
// under a placeholder for the instance URL.
struct CachedMetadata {
  std::string json;
  bool to_cache = false;  // built from the file, and worth keeping for the next request
};

// From the cache when a whole copy is there; otherwise built from the stored file. An item whose
// patient attributes are coerced (see coercion.h) is built with them and not cached: the cache
// holds what the file holds.
Result<CachedMetadata> load_metadata(const RetrieveItem& item);
// Keeps built metadata for the next request. Not synced: a torn copy is rebuilt.
void cache_metadata(const RetrieveItem& item, const std::string& json);
// The cached form with bulk data URIs under instance_url.
std::string with_instance_url(const std::string& json, const std::string& instance_url);

}  // namespace pacs::web
