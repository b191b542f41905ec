#include "pacsnode/services/retrieve.h"

#include "pacsnode/services/coercion.h"

namespace pacs {

Result<std::vector<RetrieveItem>> RetrieveService::resolve(DcmDataset& identifier,
                                                           QueryModel model) const {
  auto parsed = query_.parse(identifier, model);
  if (!parsed) return tl::unexpected(parsed.error());
  FindQuery query = parsed->query;
  query.level = Level::Instance;  // every instance below the entities the keys name
  std::vector<RetrieveItem> items;
  auto listed = index_.find(query, 0, [&](const FindRow& row) {
    items.push_back({row.sop_class_uid, row.sop_instance_uid, row.transfer_syntax,
                     blobs_.absolute(row.relative_path), row.study_uid, row.series_uid,
                     blobs_.cache_path(row.relative_path), patient_update_for(row)});
    return true;
  });
  if (!listed) return tl::unexpected(listed.error());
  return items;
}

std::string RetrieveService::patient_of_study(const std::string& study_uid) const {
  auto facts = index_.study_facts(study_uid);
  return facts && *facts ? (*facts)->patient_id : std::string();
}

}  // namespace pacs
