// Claims on the work tables (outbound_queue, hl7_outbox) for nodes that share one index: a node
// takes due items for itself, with a lease, so that no two nodes attempt the same item and an
// item whose node died goes to another once the lease runs out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/index.h"
#include "storage/sql/connection.h"

namespace pacs::sql_claims {

// Claims up to limit pending items of table whose next attempt is due and that no live lease
// holds, oldest first. On PostgreSQL, rows another node is claiming at this moment are skipped
// (SKIP LOCKED) rather than waited for. Returns the claimed keys (in no particular order).
std::vector<std::int64_t> claim_due(sql::Connection& c, std::string_view table, std::int64_t now_ms,
                                    std::size_t limit, const ClaimPolicy& claim);
// Extends the leases of claim.node's pending items in every work table; returns how many.
std::size_t renew(sql::Connection& c, const ClaimPolicy& claim, std::int64_t now_ms);
// Ends every claim of a node (one starting under the name of one that died): what it held is
// due again at once instead of after the lease. Returns how many.
std::size_t release(sql::Connection& c, const std::string& node);
// What an update that ends a claim sets, for the SET list of an UPDATE of a work table.
constexpr std::string_view kEndClaim = "claimed_by = '', lease_until_ms = 0";

}  // namespace pacs::sql_claims
