#include "storage/sql_timeline.h"

#include <algorithm>

#include "storage/model/clock.h"
#include "storage/model/metrics.h"

namespace pacs::sql_timeline {
namespace {

using sql::Value;

// Workflow steps take seconds (a worklist query) to days (a report).
const std::vector<double>& step_buckets() {
  static const std::vector<double> buckets = {1, 5, 15, 60, 300, 900, 3600, 14400, 86400, 604800};
  return buckets;
}

// The order a study is linked to, when it is.
std::optional<std::int64_t> order_of_study(sql::Connection& c, const std::string& study_uid) {
  if (study_uid.empty()) return std::nullopt;
  const Value key[] = {study_uid};
  const auto rows =
      c.query("SELECT order_pk FROM study_links WHERE study_uid = ? AND order_pk IS NOT NULL", key);
  if (rows.empty()) return std::nullopt;
  return rows[0].integer(0);
}

void observe_since_order(sql::Connection& c, std::optional<std::int64_t> order, const char* step,
                         std::int64_t now) {
  if (!order) return;
  const Value key[] = {*order};
  const auto received = c.query(
      "SELECT MIN(at_ms) FROM order_events WHERE order_pk = ? AND step = 'order-received'", key);
  if (received.empty() || received[0].is_null(0)) return;
  // Observed with the change, before its commit: a rolled-back change (rare: the index failed)
  // still counts once.
  metrics::registry()
      .histogram("pacsnode_workflow_step_seconds",
                 "Time from an order's arrival to each later step of its workflow, by step",
                 {{"step", step}}, step_buckets())
      .observe(static_cast<double>(now - received[0].integer(0)) / 1000.0);
}

}  // namespace

void record(sql::Connection& c, std::optional<std::int64_t> order_pk, const std::string& study_uid,
            const char* step, const std::string& detail, std::int64_t at_ms) {
  if (!order_pk) order_pk = order_of_study(c, study_uid);
  const std::int64_t now = at_ms > 0 ? at_ms : wall_clock_ms();
  const Value params[] = {order_pk ? Value{*order_pk} : Value{}, study_uid, std::string(step), now,
                          detail};
  c.query(
      "INSERT INTO order_events (order_pk, study_uid, step, at_ms, detail) VALUES (?, ?, ?, ?, ?)",
      params);
  if (std::string_view(step) != step::kOrderReceived) observe_since_order(c, order_pk, step, now);
}

void record_once(sql::Connection& c, std::optional<std::int64_t> order_pk,
                 const std::string& study_uid, const char* step, const std::string& detail,
                 std::int64_t at_ms) {
  if (!order_pk) order_pk = order_of_study(c, study_uid);
  if (!order_pk && study_uid.empty()) return;  // nothing to keep it with
  const Value key[] = {order_pk ? Value{*order_pk} : Value{study_uid}, std::string(step), detail};
  if (!c.query(std::string("SELECT 1 FROM order_events WHERE ") +
                   (order_pk ? "order_pk = ?" : "study_uid = ?") +
                   " AND step = ? AND detail = ? LIMIT 1",
               key)
           .empty())
    return;
  record(c, order_pk, study_uid, step, detail, at_ms);
}

std::optional<Timeline> timeline(sql::Connection& c, const std::string& accession_number) {
  const Value by_accession[] = {accession_number};
  // The newest by MAX(pk): ORDER BY pk DESC LIMIT 1 would have PostgreSQL walk the primary key.
  const auto orders = c.query(
      "SELECT pk, placer_order, filler_order, study_uid FROM orders WHERE pk = (SELECT MAX(pk) "
      "FROM orders WHERE accession_number = ?)",
      by_accession);
  if (accession_number.empty() || orders.empty()) return std::nullopt;
  const std::int64_t order = orders[0].integer(0);
  Timeline t{accession_number, orders[0].text(1), orders[0].text(2), orders[0].text(3), {}};
  const Value key[] = {order};
  const auto linked = c.query(
      "SELECT study_uid, last_instance_ms FROM study_links WHERE order_pk = ? ORDER BY pk", key);
  if (!linked.empty()) t.study_uid = linked[0].text(0);
  const Value events_key[] = {order, t.study_uid};
  for (const auto& r : c.query("SELECT step, at_ms, detail FROM order_events WHERE order_pk = ? OR "
                               "(study_uid <> '' AND study_uid = ?) ORDER BY at_ms, pk",
                               events_key))
    t.events.push_back({r.text(0), r.integer(1), r.text(2)});
  // The last instance is the study's latest arrival (kept to the second on the study's row).
  for (const auto& l : linked)
    if (l.integer(1) > 0) t.events.push_back({step::kLastInstance, l.integer(1), l.text(0)});
  std::stable_sort(
      t.events.begin(), t.events.end(),
      [](const TimelineEvent& a, const TimelineEvent& b) { return a.at_ms < b.at_ms; });
  return t;
}

}  // namespace pacs::sql_timeline
