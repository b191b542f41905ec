// The retrieve service: which stored files a C-MOVE or C-GET identifier names.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pacsnode/services/query.h"
#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

struct RetrieveItem {
  std::string sop_class_uid, sop_instance_uid, transfer_syntax;
  std::filesystem::path file;
  std::string study_uid, series_uid;
  std::filesystem::path metadata_cache;  // see BlobStore::cache_path
  // Set when the object must go out with other patient values than it was stored with (see
  // coercion.h): then it is never sent as stored bytes.
  std::optional<PatientValues> patient_update = std::nullopt;
};

class RetrieveService {
 public:
  RetrieveService(const QueryService& query, Index& index, const BlobStore& blobs)
      : query_(query), index_(index), blobs_(blobs) {}

  // The identifier's level and unique keys (one Patient ID, or UIDs and UID lists) select every
  // instance below them, in a stable order. The same matching as C-FIND.
  Result<std::vector<RetrieveItem>> resolve(DcmDataset& identifier, QueryModel model) const;

  // The Patient ID of a stored study ("" when unknown), for the audit trail.
  std::string patient_of_study(const std::string& study_uid) const;

 private:
  const QueryService& query_;
  Index& index_;
  const BlobStore& blobs_;
};

}  // namespace pacs
