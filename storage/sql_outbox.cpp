#include "storage/sql_outbox.h"

#include "storage/model/clock.h"
#include "storage/sql_claims.h"
#include "storage/sql_timeline.h"

namespace pacs::sql_outbox {
namespace {

using sql::Value;

}  // namespace

void enqueue(sql::Connection& c, const std::vector<std::string>& destinations,
             const std::string& event, const std::string& subject, const std::string& detail) {
  const std::int64_t now = wall_clock_ms();
  for (const std::string& destination : destinations) {
    const Value params[] = {destination, event, subject, detail, now, now};
    c.query(
        "INSERT INTO hl7_outbox (destination, event, subject, detail, created_ms, updated_ms) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        params);
  }
}

void touch_study(sql::Connection& c, const std::string& study_uid) {
  const std::int64_t now = wall_clock_ms();
  // A busy study is written once a second, not once an instance; a complete one at once.
  const Value params[] = {now, study_uid, now - 1000};
  c.query(
      "UPDATE study_links SET last_instance_ms = ?, complete = 0 WHERE study_uid = ? AND "
      "(last_instance_ms < ? OR complete = 1)",
      params);
}

void announce_again(sql::Connection& c, const std::string& study_uid) {
  const Value params[] = {study_uid};
  c.query("UPDATE study_links SET complete = 0 WHERE study_uid = ? AND complete = 1", params);
}

void complete_study(sql::Connection& c, const std::string& study_uid,
                    const std::vector<std::string>& destinations) {
  const Value params[] = {study_uid};
  if (c.query("UPDATE study_links SET complete = 1 WHERE study_uid = ? AND complete = 0 "
              "RETURNING pk",
              params)
          .empty())
    return;
  sql_timeline::record(c, std::nullopt, study_uid, step::kStudyComplete, "");
  enqueue(c, destinations, "study-complete", study_uid, "");
}

std::size_t complete_quiet_studies(sql::Connection& c, std::int64_t quiet_before_ms,
                                   const std::vector<std::string>& destinations,
                                   std::size_t limit) {
  const Value params[] = {quiet_before_ms};
  const auto quiet = c.query(
      "SELECT study_uid FROM study_links WHERE complete = 0 AND last_instance_ms < ? "
      "ORDER BY last_instance_ms LIMIT " +
          std::to_string(limit),
      params);
  for (const auto& r : quiet) complete_study(c, r.text(0), destinations);
  return quiet.size();
}

std::vector<OutboxItem> items(sql::Connection& c, const std::string& where,
                              const std::vector<sql::Value>& params, std::size_t limit) {
  std::vector<OutboxItem> out;
  for (const auto& r :
       c.query("SELECT pk, destination, event, subject, detail, state, attempts, next_attempt_ms, "
               "last_error, message FROM hl7_outbox " +
                   where + " LIMIT " + std::to_string(limit),
               params))
    out.push_back({r.integer(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5),
                   r.integer(6), r.integer(7), r.text(8), r.text(9)});
  return out;
}

std::map<std::string, std::int64_t> counts(sql::Connection& c) {
  std::map<std::string, std::int64_t> out;
  for (const auto& r : c.query("SELECT state, COUNT(*) FROM hl7_outbox GROUP BY state"))
    out[r.text(0)] = r.integer(1);
  return out;
}

void update(sql::Connection& c, std::int64_t id, const std::string& state,
            std::int64_t next_attempt_ms, const std::string& error) {
  const Value params[] = {state, next_attempt_ms, error, wall_clock_ms(), id};
  const auto updated = c.query(
      "UPDATE hl7_outbox SET state = ?, attempts = attempts + 1, next_attempt_ms = ?, "
      "last_error = ?, updated_ms = ?, " +
          std::string(sql_claims::kEndClaim) +
          " WHERE pk = ? RETURNING subject, destination, event",
      params);
  if (state == "sent" && !updated.empty())
    sql_timeline::record(c, std::nullopt, updated[0].text(0), step::kNotificationAcked,
                         updated[0].text(2) + " to " + updated[0].text(1));
}

std::optional<StudyFacts> study_facts(sql::Connection& c, const std::string& study_uid) {
  const Value key[] = {study_uid};
  // A stored study, with its patient and the order it is linked to.
  auto rows = c.query(
      "SELECT st.study_uid, st.accession_number, st.study_date, st.study_time, st.description, "
      "p.patient_id, p.issuer, p.name, COALESCE(o.placer_order, ''), "
      "COALESCE(o.filler_order, ''), COALESCE(o.requested_procedure_id, '') FROM studies st "
      "JOIN patients p ON p.pk = st.patient_pk "
      "LEFT JOIN study_links l ON l.study_uid = st.study_uid "
      "LEFT JOIN orders o ON o.pk = l.order_pk WHERE st.study_uid = ?",
      key);
  if (rows.empty())  // only ordered so far
    rows = c.query(
        "SELECT study_uid, accession_number, '', '', '', patient_id, issuer, patient_name, "
        "placer_order, filler_order, requested_procedure_id FROM orders WHERE study_uid = ? "
        "ORDER BY pk DESC LIMIT 1",
        key);
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  return StudyFacts{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5),
                    r.text(6), r.text(7), r.text(8), r.text(9), r.text(10)};
}

}  // namespace pacs::sql_outbox
