// The figures the index keeps per entity so that queries need not count (PS3.4 C.3.4's "number
// of related ..." keys, ModalitiesInStudy, SOPClassesInStudy), checked and rebuilt from the rows
// below them. Each function runs inside the caller's transaction where it writes.
#pragma once

#include <cstdint>
#include <vector>

#include "storage/index.h"
#include "storage/sql/connection.h"

namespace pacs::sql_consistency {

// Every kept count and set that disagrees with the rows; with repair, each is set to its actual
// value as it is found.
std::vector<CountMismatch> verify_counts(sql::Connection& c, bool repair);

// A study's modalities and SOP classes computed from its series and instances and written back:
// after an instance went, its SOP class or modality may have gone with it.
void refresh_study_sets(sql::Connection& c, std::int64_t study_pk);

}  // namespace pacs::sql_consistency
