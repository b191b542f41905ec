#include "storage/sql_patients.h"

#include <map>
#include <set>

#include "storage/dicom_attributes.h"
#include "storage/find_sql.h"
#include "storage/model/clock.h"
#include "storage/sql_outbox.h"
#include "storage/sql_workflow.h"

namespace pacs::sql_patients {
namespace {

using sql::Value;
using sql_workflow::kSamePatient;
using sql_workflow::same_patient;

struct PatientKey {
  std::string id, issuer;
};

bool same(const PatientKey& a, const PatientKey& b) {
  return sql_workflow::same_patient_id(a.id, a.issuer, b.id, b.issuer);
}

std::string updated(const std::optional<std::string>& value, const std::string& current) {
  return value ? *value : current;
}

bool scheduled_exists(sql::Connection& c, const PatientKey& p) {
  return !c.query(std::string("SELECT 1 FROM orders WHERE ") + kSamePatient + " LIMIT 1",
                  same_patient(p.id, p.issuer))
              .empty();
}

// The patient the given one was last merged into (applied merges only).
std::optional<PatientKey> merged_into(sql::Connection& c, const PatientKey& p) {
  const Value params[] = {p.id, p.issuer, p.issuer};
  const auto rows = c.query(
      "SELECT surviving_id, surviving_issuer FROM patient_merges WHERE state = 'applied' AND "
      "prior_id = ? AND (prior_issuer = ? OR prior_issuer = '' OR ? = '') ORDER BY pk DESC "
      "LIMIT 1",
      params);
  if (rows.empty()) return std::nullopt;
  return PatientKey{rows[0].text(0), rows[0].text(1)};
}

// Whether following applied merges from `from` reaches `to`. Chains are short; the bound keeps a
// journal that went wrong from looping.
bool chain_reaches(sql::Connection& c, const PatientKey& from, const PatientKey& to) {
  constexpr int kLongestChain = 64;
  PatientKey at = from;
  for (int step = 0; step < kLongestChain; ++step) {
    auto next = merged_into(c, at);
    if (!next) return false;
    if (same(*next, to)) return true;
    at = std::move(*next);
  }
  return false;
}

// The journal keeps the rows a merge changes as they were: the patients' index rows, the prior
// patient's studies (which row each belonged to), and both patients' orders and worklist items.
// Copied in SQL so that every value (NULLs and attribute sets included) comes back exactly.
void keep_rows(sql::Connection& c, std::int64_t merge, const std::vector<std::int64_t>& patients,
               const std::vector<std::int64_t>& priors, const PatientKey& prior,
               const PatientKey& survivor) {
  for (const std::int64_t pk : patients) {
    const Value params[] = {merge, pk};
    c.query(
        "INSERT INTO merge_patients (merge_pk, patient_pk, patient_id, issuer, name, name_key, "
        "birth_date, sex, attributes, demographics_changed, kept) SELECT CAST(? AS BIGINT), pk, "
        "patient_id, issuer, name, name_key, birth_date, sex, attributes, demographics_changed, 1 "
        "FROM patients WHERE pk = ?",
        params);
  }
  for (const std::int64_t pk : priors) {
    const Value params[] = {merge, pk};
    c.query(
        "INSERT INTO merge_studies (merge_pk, study_pk, patient_pk) SELECT CAST(? AS BIGINT), pk, "
        "patient_pk FROM studies WHERE patient_pk = ?",
        params);
  }
  for (const PatientKey* p : {&prior, &survivor}) {
    const Value params[] = {merge, p->id, p->issuer, p->issuer, merge};
    c.query(std::string("INSERT INTO merge_orders (merge_pk, order_pk, patient_id, issuer, "
                        "patient_name, patient_birth_date, patient_sex) SELECT CAST(? AS BIGINT), "
                        "pk, patient_id, issuer, patient_name, patient_birth_date, patient_sex "
                        "FROM orders WHERE ") +
                kSamePatient +
                " AND pk NOT IN (SELECT order_pk FROM merge_orders WHERE merge_pk = ?)",
            params);
    c.query(std::string("INSERT INTO merge_worklist (merge_pk, worklist_pk, patient_id, issuer, "
                        "patient_name, name_key, attributes) SELECT CAST(? AS BIGINT), pk, "
                        "patient_id, issuer, patient_name, name_key, attributes FROM worklist "
                        "WHERE ") +
                kSamePatient +
                " AND pk NOT IN (SELECT worklist_pk FROM merge_worklist WHERE merge_pk = ?)",
            params);
  }
}

// Moves one prior row's studies and counts to the survivor's row, and drops the prior row.
void fold_into(sql::Connection& c, std::int64_t prior, std::int64_t survivor) {
  const Value move[] = {survivor, prior};
  c.query("UPDATE studies SET patient_pk = ? WHERE patient_pk = ?", move);
  const Value prior_key[] = {prior};
  const auto moved = c.query(
      "SELECT num_studies, num_series, num_instances FROM patients WHERE pk = ?", prior_key);
  const Value counts[] = {moved.at(0).integer(0), moved.at(0).integer(1), moved.at(0).integer(2),
                          survivor};
  c.query(
      "UPDATE patients SET num_studies = num_studies + ?, num_series = num_series + ?, "
      "num_instances = num_instances + ? WHERE pk = ?",
      counts);
  c.query("DELETE FROM patients WHERE pk = ?", prior_key);
}

// The counts a patient row keeps, from its studies; a row left without studies goes.
void recount(sql::Connection& c, std::int64_t patient) {
  const Value params[] = {patient, patient, patient, patient};
  c.query(
      "UPDATE patients SET num_studies = (SELECT COUNT(*) FROM studies WHERE patient_pk = ?), "
      "num_series = (SELECT COALESCE(SUM(num_series), 0) FROM studies WHERE patient_pk = ?), "
      "num_instances = (SELECT COALESCE(SUM(num_instances), 0) FROM studies WHERE patient_pk = ?) "
      "WHERE pk = ?",
      params);
  const Value key[] = {patient};
  c.query("DELETE FROM patients WHERE pk = ? AND num_studies = 0", key);
}

MergeRecord record_of(sql::Connection& c, const sql::Row& r) {
  MergeRecord m;
  m.id = r.integer(0);
  m.prior_patient_id = r.text(1);
  m.prior_issuer = r.text(2);
  m.surviving_patient_id = r.text(3);
  m.surviving_issuer = r.text(4);
  m.actor = r.text(5);
  m.state = r.text(6);
  m.merged_ms = r.integer(7);
  m.undone_ms = r.integer(8);
  const Value key[] = {m.id};
  for (const auto& s :
       c.query("SELECT s.study_uid FROM merge_studies m JOIN studies s ON s.pk = m.study_pk "
               "WHERE m.merge_pk = ? ORDER BY s.study_uid",
               key))
    m.study_uids.push_back(s.text(0));
  const Value prior[] = {m.id, m.prior_patient_id};
  m.orders =
      c.query("SELECT COUNT(*) FROM merge_orders WHERE merge_pk = ? AND patient_id = ?", prior)
          .at(0)
          .integer(0);
  m.worklist_items =
      c.query("SELECT COUNT(*) FROM merge_worklist WHERE merge_pk = ? AND patient_id = ?", prior)
          .at(0)
          .integer(0);
  return m;
}

constexpr const char* kJournalColumns =
    "SELECT pk, prior_id, prior_issuer, surviving_id, surviving_issuer, actor, state, merged_ms, "
    "undone_ms FROM patient_merges ";

// The row a journaled patient row is restored into: its own, if the merge kept it and it is still
// the survivor's (or already the prior patient's again); a row that now holds the patient's ID (a
// study that came under the old ID after the merge) is folded into it. Without a row of its own,
// the row that holds the ID takes the values, or a new row is made.
std::int64_t restore_patient(sql::Connection& c, std::int64_t merge, const sql::Row& journaled,
                             const std::string& surviving_id, std::set<std::int64_t>& touched) {
  const std::int64_t pk = journaled.integer(0);
  const std::string id = journaled.text(1), issuer = journaled.text(2);
  std::optional<std::int64_t> target;
  if (journaled.integer(3) != 0) {
    const Value key[] = {pk};
    const auto now = c.query("SELECT patient_id FROM patients WHERE pk = ?", key);
    if (!now.empty() && (now[0].text(0) == surviving_id || now[0].text(0) == id)) target = pk;
  }
  const Value holder_key[] = {id, issuer, target.value_or(-1)};
  const auto holder = c.query(
      "SELECT pk FROM patients WHERE patient_id = ? AND issuer = ? AND pk <> ?", holder_key);
  if (!holder.empty()) {
    if (target)
      fold_into(c, holder[0].integer(0), *target);
    else
      target = holder[0].integer(0);
  }
  const Value from[] = {merge, pk};
  if (target) {
    const Value params[] = {merge, pk, *target};
    c.query(
        "UPDATE patients SET (patient_id, issuer, name, name_key, birth_date, sex, attributes, "
        "demographics_changed) = (SELECT patient_id, issuer, name, name_key, birth_date, sex, "
        "attributes, demographics_changed FROM merge_patients WHERE merge_pk = ? AND "
        "patient_pk = ?) WHERE pk = ?",
        params);
  } else {
    target = c.query(
                  "INSERT INTO patients (patient_id, issuer, name, name_key, birth_date, sex, "
                  "attributes, demographics_changed) SELECT patient_id, issuer, name, name_key, "
                  "birth_date, sex, attributes, demographics_changed FROM merge_patients WHERE "
                  "merge_pk = ? AND patient_pk = ? RETURNING pk",
                  from)
                 .at(0)
                 .integer(0);
  }
  touched.insert(*target);
  return *target;
}

}  // namespace

std::vector<std::int64_t> index_patients(sql::Connection& c, const std::string& id,
                                         const std::string& issuer) {
  std::vector<std::int64_t> out;
  for (const auto& r :
       c.query(std::string("SELECT pk FROM patients WHERE ") + kSamePatient + " ORDER BY pk",
               same_patient(id, issuer)))
    out.push_back(r.integer(0));
  return out;
}

void update_index_patient(sql::Connection& c, std::int64_t pk, const PatientValues& v) {
  const Value key[] = {pk};
  auto rows = c.query(
      "SELECT patient_id, issuer, name, birth_date, sex, attributes FROM patients WHERE pk = ?",
      key);
  if (rows.empty()) return;
  const auto& r = rows[0];
  const std::string name = normalized_person_name(updated(v.name, r.text(2)));
  const Value params[] = {updated(v.patient_id, r.text(0)),
                          updated(v.issuer_of_patient_id, r.text(1)),
                          name,
                          person_name_key(name),
                          updated(v.birth_date, r.text(3)),
                          updated(v.sex, r.text(4)),
                          sql::Blob{with_patient_values(r.blob(5), v)},
                          pk};
  c.query(
      "UPDATE patients SET patient_id = ?, issuer = ?, name = ?, name_key = ?, birth_date = ?, "
      "sex = ?, attributes = ?, demographics_changed = 1 WHERE pk = ?",
      params);
}

void update_scheduled(sql::Connection& c, const std::string& id, const std::string& issuer,
                      const PatientValues& v) {
  const auto who = same_patient(id, issuer);
  for (const auto& r : c.query(std::string("SELECT pk, patient_id, issuer, patient_name, "
                                           "attributes FROM worklist WHERE ") +
                                   kSamePatient,
                               who)) {
    const std::string name = normalized_person_name(updated(v.name, r.text(3)));
    const Value params[] = {updated(v.patient_id, r.text(1)),
                            updated(v.issuer_of_patient_id, r.text(2)),
                            name,
                            person_name_key(name),
                            sql::Blob{with_patient_values(r.blob(4), v)},
                            r.integer(0)};
    c.query(
        "UPDATE worklist SET patient_id = ?, issuer = ?, patient_name = ?, name_key = ?, "
        "attributes = ? WHERE pk = ?",
        params);
  }
  for (const auto& r :
       c.query(std::string("SELECT pk, patient_id, issuer, patient_name, patient_birth_date, "
                           "patient_sex FROM orders WHERE ") +
                   kSamePatient,
               who)) {
    const Value params[] = {updated(v.patient_id, r.text(1)),
                            updated(v.issuer_of_patient_id, r.text(2)),
                            normalized_person_name(updated(v.name, r.text(3))),
                            updated(v.birth_date, r.text(4)),
                            updated(v.sex, r.text(5)),
                            wall_clock_ms(),
                            r.integer(0)};
    c.query(
        "UPDATE orders SET patient_id = ?, issuer = ?, patient_name = ?, patient_birth_date = ?, "
        "patient_sex = ?, updated_ms = ? WHERE pk = ?",
        params);
  }
}

Result<MergeRecord> merge(sql::Connection& c, const PatientChange& change,
                          const std::string& actor) {
  const PatientKey prior{change.prior_patient_id, change.prior_issuer_of_patient_id};
  const PatientKey survivor{change.patient_id, change.issuer_of_patient_id};
  MergeRecord record;
  record.prior_patient_id = prior.id;
  record.prior_issuer = prior.issuer;
  record.surviving_patient_id = survivor.id;
  record.surviving_issuer = survivor.issuer;
  record.actor = actor;
  record.state = "applied";
  record.merged_ms = wall_clock_ms();
  if (prior.id.empty() || survivor.id.empty())
    return fail(ErrorCode::InvalidArgument, "a merge names both Patient IDs");
  if (same(prior, survivor))
    return fail(ErrorCode::InvalidArgument, "a patient cannot be merged into itself");
  if (chain_reaches(c, survivor, prior))
    return fail(ErrorCode::InvalidArgument,
                "Patient ID " + survivor.id + " was merged into " + prior.id +
                    " before: merging back would make a cycle (undo that merge instead)");
  const auto priors = index_patients(c, prior.id, prior.issuer);
  if (priors.empty() && !scheduled_exists(c, prior)) {
    if (!chain_reaches(c, prior, survivor))
      return fail(ErrorCode::NotFound, "the prior patient (MRG-1) is not known");
    record.already_applied = true;  // a duplicate: the prior patient is in the survivor already
    return record;
  }
  auto survivors = index_patients(c, survivor.id, survivor.issuer);

  const Value journal[] = {prior.id,        prior.issuer,     survivor.id,
                           survivor.issuer, record.merged_ms, actor};
  record.id = c.query(
                   "INSERT INTO patient_merges (prior_id, prior_issuer, surviving_id, "
                   "surviving_issuer, merged_ms, actor) VALUES (?, ?, ?, ?, ?, ?) RETURNING pk",
                   journal)
                  .at(0)
                  .integer(0);
  std::vector<std::int64_t> patients = priors;
  patients.insert(patients.end(), survivors.begin(), survivors.end());
  keep_rows(c, record.id, patients, priors, prior, survivor);

  PatientValues to_surviving;
  to_surviving.patient_id = survivor.id;
  to_surviving.issuer_of_patient_id = survivor.issuer;
  for (const std::int64_t p : priors) {
    if (survivors.empty()) {
      // No surviving row yet: the prior patient's row becomes it.
      update_index_patient(c, p, to_surviving);
      survivors.push_back(p);
    } else if (survivors.front() != p) {
      fold_into(c, p, survivors.front());
    }
  }
  update_scheduled(c, prior.id, prior.issuer, to_surviving);
  // Which kept rows the merge dropped: an undo makes those anew.
  const Value merge_key[] = {record.id};
  c.query(
      "UPDATE merge_patients SET kept = CASE WHEN EXISTS (SELECT 1 FROM patients p WHERE "
      "p.pk = merge_patients.patient_pk) THEN 1 ELSE 0 END WHERE merge_pk = ?",
      merge_key);
  const MergeRecord kept =
      record_of(c, c.query(std::string(kJournalColumns) + "WHERE pk = ?", merge_key).at(0));
  record.study_uids = kept.study_uids;
  record.orders = kept.orders;
  record.worklist_items = kept.worklist_items;
  // The destinations were told of these studies under the prior patient.
  for (const std::string& uid : record.study_uids) sql_outbox::announce_again(c, uid);
  return record;
}

Result<MergeRecord> unmerge(sql::Connection& c, std::int64_t merge_id, const std::string& actor) {
  auto found = find_merge(c, merge_id);
  if (!found) return fail(ErrorCode::NotFound, "no merge " + std::to_string(merge_id));
  MergeRecord record = std::move(*found);
  if (record.state != "applied")
    return fail(ErrorCode::InvalidArgument,
                "merge " + std::to_string(merge_id) + " was undone already");
  const Value key[] = {merge_id};
  const bool journaleds =
      !c.query(
            "SELECT 1 FROM merge_patients WHERE merge_pk = ? UNION ALL SELECT 1 FROM "
            "merge_orders WHERE merge_pk = ? LIMIT 1",
            std::vector<Value>{merge_id, merge_id})
           .empty();
  if (!journaleds)
    return fail(ErrorCode::InvalidArgument, "merge " + std::to_string(merge_id) +
                                                " was journaled before merges kept their rows");
  const Value later_key[] = {merge_id, record.prior_patient_id, record.surviving_patient_id,
                             record.prior_patient_id, record.surviving_patient_id};
  if (const auto later =
          c.query("SELECT pk FROM patient_merges WHERE pk > ? AND state = 'applied' AND "
                  "(prior_id IN (?, ?) OR surviving_id IN (?, ?)) ORDER BY pk DESC LIMIT 1",
                  later_key);
      !later.empty())
    return fail(ErrorCode::InvalidArgument,
                "merge " + std::to_string(later[0].integer(0)) +
                    " came later and involves the same patients: undo it first");
  sql_workflow::lock_patient(c, record.surviving_patient_id, record.surviving_issuer);
  sql_workflow::lock_patient(c, record.prior_patient_id, record.prior_issuer);

  std::set<std::int64_t> touched;
  std::map<std::int64_t, std::int64_t> restored;  // the journal's row -> the row now
  for (const auto& row :
       c.query("SELECT patient_pk, patient_id, issuer, kept FROM merge_patients WHERE merge_pk = ? "
               "ORDER BY patient_pk",
               key))
    restored[row.integer(0)] =
        restore_patient(c, merge_id, row, record.surviving_patient_id, touched);
  for (const auto& row :
       c.query("SELECT m.study_pk, m.patient_pk, s.patient_pk FROM merge_studies m JOIN studies s "
               "ON s.pk = m.study_pk WHERE m.merge_pk = ?",
               key)) {
    touched.insert(row.integer(2));
    const Value move[] = {restored.at(row.integer(1)), row.integer(0)};
    c.query("UPDATE studies SET patient_pk = ? WHERE pk = ?", move);
  }
  for (const std::int64_t patient : touched) recount(c, patient);
  const Value both[] = {merge_id, merge_id};
  c.query(
      "UPDATE orders SET (patient_id, issuer, patient_name, patient_birth_date, patient_sex) = "
      "(SELECT m.patient_id, m.issuer, m.patient_name, m.patient_birth_date, m.patient_sex FROM "
      "merge_orders m WHERE m.merge_pk = ? AND m.order_pk = orders.pk) WHERE pk IN (SELECT "
      "order_pk FROM merge_orders WHERE merge_pk = ?)",
      both);
  c.query(
      "UPDATE worklist SET (patient_id, issuer, patient_name, name_key, attributes) = (SELECT "
      "m.patient_id, m.issuer, m.patient_name, m.name_key, m.attributes FROM merge_worklist m "
      "WHERE m.merge_pk = ? AND m.worklist_pk = worklist.pk) WHERE pk IN (SELECT worklist_pk "
      "FROM merge_worklist WHERE merge_pk = ?)",
      both);
  record.state = "undone";
  record.undone_ms = wall_clock_ms();
  const Value done[] = {record.undone_ms, merge_id};
  c.query("UPDATE patient_merges SET state = 'undone', undone_ms = ? WHERE pk = ?", done);
  sql_workflow::audit(c, actor, "unmerge", record.prior_patient_id,
                      "merge " + std::to_string(merge_id) + " into Patient ID " +
                          record.surviving_patient_id + " undone");
  for (const std::string& uid : record.study_uids) sql_outbox::announce_again(c, uid);
  return record;
}

std::vector<MergeRecord> merges(sql::Connection& c, std::size_t limit) {
  std::vector<MergeRecord> out;
  for (const auto& r : c.query(
           std::string(kJournalColumns) + "ORDER BY pk DESC LIMIT " + std::to_string(limit), {}))
    out.push_back(record_of(c, r));
  return out;
}

std::optional<MergeRecord> find_merge(sql::Connection& c, std::int64_t merge_id) {
  const Value key[] = {merge_id};
  const auto rows = c.query(std::string(kJournalColumns) + "WHERE pk = ?", key);
  if (rows.empty()) return std::nullopt;
  return record_of(c, rows[0]);
}

}  // namespace pacs::sql_patients
