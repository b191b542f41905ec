// The per-order timeline in the index: each workflow step as it happens (model/timeline.h), kept
// with its order and/or its study, and read back per accession number. Steps are recorded inside
// the transaction of the change they mark, so a step is there exactly when its effect is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "storage/model/timeline.h"
#include "storage/sql/connection.h"

namespace pacs::sql_timeline {

// Records a step of an order and/or of a study (either may be unknown) as of at_ms (now when 0);
// the pacsnode_workflow_step_seconds histogram gets its time since the order was received.
void record(sql::Connection& c, std::optional<std::int64_t> order_pk, const std::string& study_uid,
            const char* step, const std::string& detail, std::int64_t at_ms = 0);
// The same, once per (order or study, step, detail): a modality's repeated worklist queries.
void record_once(sql::Connection& c, std::optional<std::int64_t> order_pk,
                 const std::string& study_uid, const char* step, const std::string& detail,
                 std::int64_t at_ms = 0);

// The timeline of the newest order with this accession number, with the steps of the studies
// linked to it; nullopt when no order has it.
std::optional<Timeline> timeline(sql::Connection& c, const std::string& accession_number);

}  // namespace pacs::sql_timeline
