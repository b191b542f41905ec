#include "storage/sql_workflow.h"

#include <chrono>
#include <vector>

#include "storage/dicom_attributes.h"
#include "storage/find_sql.h"

namespace pacs::sql_workflow {
namespace {

using sql::Value;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Rows of one patient: the same Patient ID, and the same issuer where both sides name one
// (objects often arrive without Issuer of Patient ID while the RIS always sends PID-3.4).
constexpr const char* kSamePatient = "patient_id = ? AND (issuer = ? OR issuer = '' OR ? = '')";

std::vector<Value> same_patient(const std::string& id, const std::string& issuer) {
  return {id, issuer, issuer};
}

// PostgreSQL: an update of a patient takes the patient's turn, as ingest does (the same lock key),
// so counts and rows change under one writer at a time.
void lock_patient(sql::Connection& c, const std::string& id, const std::string& issuer) {
  if (c.dialect() != sql::Dialect::Postgresql) return;
  for (const std::string& key : {id + '\x1f' + issuer, id + '\x1f'}) {
    const Value params[] = {key};
    c.query("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", params);
  }
}

std::string updated(const std::optional<std::string>& value, const std::string& current) {
  return value ? *value : current;
}

// The patient's row in the index: its columns and its attribute set.
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
      "sex = ?, attributes = ? WHERE pk = ?",
      params);
}

// The patient's orders and worklist items (their columns and the items' attribute sets).
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
       c.query(std::string("SELECT pk, patient_id, issuer, patient_name FROM orders WHERE ") +
                   kSamePatient,
               who)) {
    const Value params[] = {
        updated(v.patient_id, r.text(1)), updated(v.issuer_of_patient_id, r.text(2)),
        normalized_person_name(updated(v.name, r.text(3))), now_ms(), r.integer(0)};
    c.query(
        "UPDATE orders SET patient_id = ?, issuer = ?, patient_name = ?, updated_ms = ? "
        "WHERE pk = ?",
        params);
  }
}

std::vector<std::int64_t> index_patients(sql::Connection& c, const std::string& id,
                                         const std::string& issuer) {
  std::vector<std::int64_t> out;
  for (const auto& r :
       c.query(std::string("SELECT pk FROM patients WHERE ") + kSamePatient + " ORDER BY pk",
               same_patient(id, issuer)))
    out.push_back(r.integer(0));
  return out;
}

bool scheduled_exists(sql::Connection& c, const std::string& id, const std::string& issuer) {
  return !c.query(std::string("SELECT 1 FROM orders WHERE ") + kSamePatient + " LIMIT 1",
                  same_patient(id, issuer))
              .empty();
}

// The prior patient's studies, orders and worklist items become the surviving patient's.
Result<void> merge(sql::Connection& c, const PatientChange& change) {
  const std::string& prior_id = change.prior_patient_id;
  const std::string& prior_issuer = change.prior_issuer_of_patient_id;
  const auto priors = index_patients(c, prior_id, prior_issuer);
  if (priors.empty() && !scheduled_exists(c, prior_id, prior_issuer))
    return fail(ErrorCode::NotFound, "the prior patient (MRG-1) is not known");
  PatientValues to_surviving;
  to_surviving.patient_id = change.patient_id;
  to_surviving.issuer_of_patient_id = change.issuer_of_patient_id;
  auto survivors = index_patients(c, change.patient_id, change.issuer_of_patient_id);
  for (const std::int64_t prior : priors) {
    if (survivors.empty()) {
      // No surviving row yet: the prior patient's row becomes it.
      update_index_patient(c, prior, to_surviving);
      survivors.push_back(prior);
      continue;
    }
    const std::int64_t survivor = survivors.front();
    if (survivor == prior) continue;
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
    const Value gone[] = {prior};
    c.query("DELETE FROM patients WHERE pk = ?", gone);
  }
  update_scheduled(c, prior_id, prior_issuer, to_surviving);
  const Value journal[] = {prior_id, prior_issuer, change.patient_id, change.issuer_of_patient_id,
                           now_ms()};
  c.query(
      "INSERT INTO patient_merges (prior_id, prior_issuer, surviving_id, surviving_issuer, "
      "merged_ms) VALUES (?, ?, ?, ?, ?)",
      journal);
  return {};
}

}  // namespace

// The order a message names: by filler order number, or by placer order number without one.
std::optional<std::int64_t> order_pk(sql::Connection& c, const std::string& placer,
                                     const std::string& filler) {
  if (placer.empty() && filler.empty()) return std::nullopt;
  const Value params[] = {filler.empty() ? placer : filler};
  auto rows =
      c.query(filler.empty() ? "SELECT pk FROM orders WHERE placer_order = ? ORDER BY pk LIMIT 1"
                             : "SELECT pk FROM orders WHERE filler_order = ? ORDER BY pk LIMIT 1",
              params);
  if (rows.empty()) return std::nullopt;
  return rows[0].integer(0);
}

// False when the sender's control ID is recorded already.
bool insert_message(sql::Connection& c, const MessageRecord& m) {
  const Value params[] = {m.sender, m.control_id, m.message_type, m.ack_code, m.ack, now_ms()};
  return !c.query(
               "INSERT INTO hl7_messages (sender, control_id, message_type, ack_code, ack, "
               "received_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING pk",
               params)
              .empty();
}

Result<void> apply_order(sql::Connection& c, const OrderChange& change) {
  const OrderRecord& o = change.order;
  auto pk = order_pk(c, o.placer_order, o.filler_order);
  const std::int64_t now = now_ms();
  if (change.action == OrderAction::Schedule) {
    if (pk) {
      const Value params[] = {o.placer_order,
                              o.filler_order,
                              o.accession_number,
                              o.requested_procedure_id,
                              o.study_uid,
                              o.patient_id,
                              o.issuer_of_patient_id,
                              o.patient_name,
                              now,
                              *pk};
      c.query(
          "UPDATE orders SET placer_order = ?, filler_order = ?, accession_number = ?, "
          "requested_procedure_id = ?, study_uid = ?, patient_id = ?, issuer = ?, "
          "patient_name = ?, status = 'SCHEDULED', updated_ms = ? WHERE pk = ?",
          params);
      const Value order_param[] = {*pk};
      c.query("DELETE FROM worklist WHERE order_pk = ?", order_param);
    } else {
      const Value params[] = {o.placer_order,           o.filler_order, o.accession_number,
                              o.requested_procedure_id, o.study_uid,    o.patient_id,
                              o.issuer_of_patient_id,   o.patient_name, now};
      auto inserted = c.query(
          "INSERT INTO orders (placer_order, filler_order, accession_number, "
          "requested_procedure_id, study_uid, patient_id, issuer, patient_name, updated_ms) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
          params);
      pk = inserted.at(0).integer(0);
    }
    for (const WorklistItem& step : o.steps) {
      const Value params[] = {*pk,
                              step.sps_id,
                              step.station_aet,
                              step.modality,
                              step.start_date,
                              step.start_time,
                              o.patient_id,
                              o.issuer_of_patient_id,
                              o.patient_name,
                              person_name_key(o.patient_name),
                              o.accession_number,
                              o.requested_procedure_id,
                              o.study_uid,
                              sql::Blob{step.attributes}};
      c.query(
          "INSERT INTO worklist (order_pk, sps_id, station_aet, modality, start_date, "
          "start_time, patient_id, issuer, patient_name, name_key, accession_number, "
          "requested_procedure_id, study_uid, attributes) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          params);
    }
  } else {
    if (!pk)
      return fail(ErrorCode::NotFound, "no order with placer number '" + o.placer_order +
                                           "' / filler number '" + o.filler_order + "'");
    const std::string status =
        change.action == OrderAction::Cancel ? std::string("CANCELLED") : change.status;
    const Value params[] = {status, now, *pk};
    c.query("UPDATE orders SET status = ?, updated_ms = ? WHERE pk = ?", params);
    const Value order_param[] = {*pk};
    if (change.action == OrderAction::Cancel) {
      c.query("DELETE FROM worklist WHERE order_pk = ?", order_param);
    } else {
      const Value step_params[] = {status, *pk};
      c.query("UPDATE worklist SET status = ? WHERE order_pk = ?", step_params);
    }
  }
  return {};
}

Result<void> apply_patient_change(sql::Connection& c, const PatientChange& change) {
  lock_patient(c, change.patient_id, change.issuer_of_patient_id);
  if (change.merge) {
    lock_patient(c, change.prior_patient_id, change.prior_issuer_of_patient_id);
    if (auto merged = merge(c, change); !merged) return merged;
  }
  for (const std::int64_t pk : index_patients(c, change.patient_id, change.issuer_of_patient_id))
    update_index_patient(c, pk, change.demographics);
  update_scheduled(c, change.patient_id, change.issuer_of_patient_id, change.demographics);
  return {};
}

}  // namespace pacs::sql_workflow
