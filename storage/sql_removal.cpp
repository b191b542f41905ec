#include "storage/sql_removal.h"

#include <map>
#include <set>
#include <string>

#include "storage/model/clock.h"
#include "storage/sql_consistency.h"
#include "storage/sql_workflow.h"

namespace pacs::sql_removal {
namespace {

using sql::Value;

// Every instance with the entities above it, for a condition on any level.
constexpr const char* kInstancesFrom =
    " FROM instances i JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = "
    "se.study_pk JOIN patients p ON p.pk = st.patient_pk WHERE ";

// The condition on kInstancesFrom that names the target, and its parameters.
struct Scope {
  std::string condition;
  std::vector<Value> params;
};

Result<Scope> scope_of(sql::Connection& c, const RemovalTarget& t) {
  const auto needs = [](const std::string& key, const char* what) -> Result<void> {
    if (key.empty()) return fail(ErrorCode::InvalidArgument, std::string("name the ") + what);
    return {};
  };
  // A series or instance may name its study (and an instance its series) too: then it must be
  // in them.
  const auto within = [&t](Scope scope) {
    if (!t.study_uid.empty()) {
      scope.condition += " AND st.study_uid = ?";
      scope.params.push_back(t.study_uid);
    }
    if (t.level == RemovalLevel::Instance && !t.series_uid.empty()) {
      scope.condition += " AND se.series_uid = ?";
      scope.params.push_back(t.series_uid);
    }
    return scope;
  };
  switch (t.level) {
    case RemovalLevel::Patient: {
      if (auto ok = needs(t.patient_id, "Patient ID"); !ok) return tl::unexpected(ok.error());
      if (auto one = sql_workflow::one_authority(c, t.patient_id, t.issuer_of_patient_id); !one)
        return tl::unexpected(one.error());
      // Only the patients table has these columns: the condition needs no qualifier.
      return Scope{sql_workflow::kSamePatient,
                   sql_workflow::same_patient(t.patient_id, t.issuer_of_patient_id)};
    }
    case RemovalLevel::Study:
      if (auto ok = needs(t.study_uid, "Study Instance UID"); !ok)
        return tl::unexpected(ok.error());
      return Scope{"st.study_uid = ?", {t.study_uid}};
    case RemovalLevel::Series:
      if (auto ok = needs(t.series_uid, "Series Instance UID"); !ok)
        return tl::unexpected(ok.error());
      return within(Scope{"se.series_uid = ?", {t.series_uid}});
    case RemovalLevel::Instance:
      if (auto ok = needs(t.sop_instance_uid, "SOP Instance UID"); !ok)
        return tl::unexpected(ok.error());
      return within(Scope{"i.sop_uid = ?", {t.sop_instance_uid}});
  }
  return fail(ErrorCode::InvalidArgument, "unknown level");
}

std::vector<Value> with(std::vector<Value> first, const std::vector<Value>& then) {
  first.insert(first.end(), then.begin(), then.end());
  return first;
}

// True when the row went because nothing is left below it.
bool deleted_if_empty(sql::Connection& c, const char* table, const char* count_column,
                      std::int64_t pk) {
  const Value key[] = {pk};
  return !c.query(std::string("DELETE FROM ") + table + " WHERE pk = ? AND " + count_column +
                      " = 0 RETURNING pk",
                  key)
              .empty();
}

}  // namespace

Result<RemovedObjects> remove_objects(sql::Connection& c, const RemovalTarget& target,
                                      const RemovalOrder& order) {
  auto scope = scope_of(c, target);
  if (!scope) return tl::unexpected(scope.error());
  const std::string where = scope->condition;
  const auto& params = scope->params;
  // The patients' turn first (PostgreSQL: ingest into them waits), then the rows as they are now.
  for (const auto& r : c.query(
           "SELECT DISTINCT p.patient_id, p.issuer" + std::string(kInstancesFrom) + where, params))
    sql_workflow::lock_patient(c, r.text(0), r.text(1));
  const auto rows = c.query("SELECT i.sop_class, se.pk, st.pk, st.study_uid, p.pk, p.patient_id" +
                                std::string(kInstancesFrom) + where,
                            params);
  if (rows.empty()) return fail(ErrorCode::NotFound, "nothing stored matches");

  RemovedObjects removed;
  removed.instances = static_cast<std::int64_t>(rows.size());
  std::set<std::int64_t> series, studies, patients;
  std::map<std::int64_t, RemovedStudy> by_study;
  for (const auto& r : rows) {
    series.insert(r.integer(1));
    patients.insert(r.integer(4));
    studies.insert(r.integer(2));
    RemovedStudy& study = by_study[r.integer(2)];
    study.study_uid = r.text(3);
    study.patient_id = r.text(5);
    ++study.sop_classes[r.text(0)];
  }

  // Forwarding what is gone could only fail; what was sent stays on record.
  c.query("DELETE FROM outbound_queue WHERE state <> 'sent' AND sop_uid IN (SELECT i.sop_uid" +
              std::string(kInstancesFrom) + where + ")",
          params);
  c.query(
      "INSERT INTO purge_queue (path, sop_uid, reason, purge_after_ms, created_ms) "
      "SELECT i.path, i.sop_uid, ?, ?, ?" +
          std::string(kInstancesFrom) + where,
      with({order.reason, order.purge_after_ms, wall_clock_ms()}, params));
  c.query(
      "DELETE FROM instances WHERE pk IN (SELECT i.pk" + std::string(kInstancesFrom) + where + ")",
      params);

  // The counts above, from the rows left; entities left empty go.
  for (const std::int64_t pk : series) {
    const Value key[] = {pk, pk};
    c.query(
        "UPDATE series SET num_instances = (SELECT COUNT(*) FROM instances WHERE series_pk = ?) "
        "WHERE pk = ?",
        key);
    removed.series += deleted_if_empty(c, "series", "num_instances", pk);
  }
  for (const std::int64_t pk : studies) {
    const Value key[] = {pk, pk, pk};
    c.query(
        "UPDATE studies SET num_series = (SELECT COUNT(*) FROM series WHERE study_pk = ?), "
        "num_instances = (SELECT COALESCE(SUM(num_instances), 0) FROM series WHERE study_pk = ?) "
        "WHERE pk = ?",
        key);
    RemovedStudy& study = by_study[pk];
    study.whole = deleted_if_empty(c, "studies", "num_series", pk);
    if (study.whole) {
      ++removed.studies;
      const Value uid[] = {study.study_uid};
      c.query("DELETE FROM study_links WHERE study_uid = ?", uid);
    } else {
      sql_consistency::refresh_study_sets(c, pk);
    }
  }
  for (const std::int64_t pk : patients) {
    const Value key[] = {pk, pk, pk, pk};
    c.query(
        "UPDATE patients SET num_studies = (SELECT COUNT(*) FROM studies WHERE patient_pk = ?), "
        "num_series = (SELECT COALESCE(SUM(num_series), 0) FROM studies WHERE patient_pk = ?), "
        "num_instances = (SELECT COALESCE(SUM(num_instances), 0) FROM studies WHERE "
        "patient_pk = ?) WHERE pk = ?",
        key);
    removed.patients += deleted_if_empty(c, "patients", "num_studies", pk);
  }
  for (auto& [pk, study] : by_study) {
    int count = 0;
    for (const auto& [sop_class, n] : study.sop_classes) count += n;
    sql_workflow::audit(c, order.actor, "remove", study.study_uid,
                        std::to_string(count) + " instance(s)" +
                            (study.whole ? ", the whole study" : "") + ": " + order.reason);
    removed.by_study.push_back(std::move(study));
  }
  return removed;
}

std::vector<PendingPurge> due_purges(sql::Connection& c, std::int64_t now_ms, std::size_t limit) {
  std::string sql =
      "SELECT pk, path, sop_uid, purge_after_ms FROM purge_queue WHERE purge_after_ms <= ? "
      "ORDER BY purge_after_ms, pk";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  const Value params[] = {now_ms};
  std::vector<PendingPurge> out;
  for (const auto& r : c.query(sql, params))
    out.push_back({r.integer(0), r.text(1), r.text(2), r.integer(3)});
  return out;
}

void forget_purge(sql::Connection& c, std::int64_t id) {
  const Value key[] = {id};
  c.query("DELETE FROM purge_queue WHERE pk = ?", key);
}

std::optional<std::int64_t> next_purge_due(sql::Connection& c) {
  const auto rows = c.query("SELECT MIN(purge_after_ms) FROM purge_queue");
  if (rows.empty() || rows[0].is_null(0)) return std::nullopt;
  return rows[0].integer(0);
}

std::vector<AgedStudy> studies_oldest_first(sql::Connection& c, const std::string& before_date,
                                            std::size_t limit) {
  const Value params[] = {before_date, static_cast<std::int64_t>(limit)};
  std::vector<AgedStudy> out;
  for (const auto& r :
       c.query("SELECT st.study_uid, p.patient_id, st.study_date, st.modalities, "
               "COALESCE(l.last_instance_ms, 0), st.num_instances, "
               "(SELECT COALESCE(SUM(i.size_bytes), 0) FROM instances i JOIN series se ON "
               "se.pk = i.series_pk WHERE se.study_pk = st.pk), "
               "CASE WHEN EXISTS (SELECT 1 FROM instances i JOIN series se ON se.pk = i.series_pk "
               "JOIN outbound_queue q ON q.sop_uid = i.sop_uid WHERE se.study_pk = st.pk AND "
               "q.state <> 'sent') THEN 1 ELSE 0 END "
               "FROM studies st JOIN patients p ON p.pk = st.patient_pk "
               "LEFT JOIN study_links l ON l.study_uid = st.study_uid "
               "WHERE st.study_date < ? ORDER BY st.study_date, st.pk LIMIT ?",
               params))
    out.push_back({r.text(0), r.text(1), r.text(2), r.text(3), r.integer(4), r.integer(5),
                   static_cast<std::uint64_t>(r.integer(6)), r.integer(7) != 0});
  return out;
}

}  // namespace pacs::sql_removal
