#include "storage/sql_claims.h"

#include <string>

namespace pacs::sql_claims {
namespace {

constexpr std::string_view kWorkTables[] = {"outbound_queue", "hl7_outbox"};

}  // namespace

std::vector<std::int64_t> claim_due(sql::Connection& c, std::string_view table, std::int64_t now_ms,
                                    std::size_t limit, const ClaimPolicy& claim) {
  const bool pg = c.dialect() == sql::Dialect::Postgresql;
  const std::string name(table);
  const sql::Value params[] = {claim.node, now_ms + claim.lease_ms, now_ms, now_ms,
                               static_cast<std::int64_t>(limit)};
  // One statement: the rows are chosen and marked together, so two nodes never both win one
  // (SQLite has one writer at a time; PostgreSQL locks the chosen rows, skipping locked ones).
  const auto rows =
      c.query("UPDATE " + name +
                  " SET claimed_by = ?, lease_until_ms = ? WHERE pk IN (SELECT pk FROM " + name +
                  " WHERE state = 'pending' AND next_attempt_ms <= ? AND lease_until_ms <= ? "
                  "ORDER BY pk LIMIT ?" +
                  (pg ? " FOR UPDATE SKIP LOCKED" : "") + ") RETURNING pk",
              params);
  std::vector<std::int64_t> keys;
  keys.reserve(rows.size());
  for (const auto& r : rows) keys.push_back(r.integer(0));
  return keys;
}

// "claimed_by <> ''" spells out the partial index's condition (migration 20), so both planners use
// it whatever the bound name.
std::size_t renew(sql::Connection& c, const ClaimPolicy& claim, std::int64_t now_ms) {
  std::size_t renewed = 0;
  const sql::Value params[] = {now_ms + claim.lease_ms, claim.node};
  for (std::string_view table : kWorkTables)
    renewed += c.query("UPDATE " + std::string(table) +
                           " SET lease_until_ms = ? WHERE claimed_by <> '' AND claimed_by = ? "
                           "AND state = 'pending' RETURNING pk",
                       params)
                   .size();
  return renewed;
}

std::size_t release(sql::Connection& c, const std::string& node) {
  std::size_t released = 0;
  const sql::Value params[] = {node};
  for (std::string_view table : kWorkTables)
    released += c.query("UPDATE " + std::string(table) + " SET " + std::string(kEndClaim) +
                            " WHERE claimed_by <> '' AND claimed_by = ? RETURNING pk",
                        params)
                    .size();
  return released;
}

}  // namespace pacs::sql_claims
