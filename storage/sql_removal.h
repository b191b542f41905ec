// Removal of objects from the index: the rows of a patient, study, series or instance go in the
// caller's transaction, with every count and set above them kept right, and their files are put
// in the purge queue in that same transaction (see model/removal.h for why files go after).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "storage/model/removal.h"
#include "storage/model/result.h"
#include "storage/sql/connection.h"

namespace pacs::sql_removal {

// NotFound when nothing stored matches; InvalidArgument when the target names nothing (an empty
// key) or a Patient ID of more than one authority without its issuer.
Result<RemovedObjects> remove_objects(sql::Connection& c, const RemovalTarget& target,
                                      const RemovalOrder& order);
// Files whose time has come (purge_after_ms <= now_ms), oldest first; limit 0 for all.
std::vector<PendingPurge> due_purges(sql::Connection& c, std::int64_t now_ms, std::size_t limit);
void forget_purge(sql::Connection& c, std::int64_t id);
std::optional<std::int64_t> next_purge_due(sql::Connection& c);
// Studies whose Study Date sorts before `before_date` (YYYYMMDD; those without a date count as
// oldest), oldest first, up to limit.
std::vector<AgedStudy> studies_oldest_first(sql::Connection& c, const std::string& before_date,
                                            std::size_t limit);

}  // namespace pacs::sql_removal
