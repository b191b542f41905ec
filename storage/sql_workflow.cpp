#include "storage/sql_workflow.h"

#include <map>
#include <optional>
#include <vector>

#include "storage/dicom_attributes.h"
#include "storage/find_sql.h"
#include "storage/model/clock.h"
#include "storage/sql_outbox.h"
#include "storage/sql_patients.h"
#include "storage/sql_reconciliation.h"
#include "storage/sql_timeline.h"

namespace pacs::sql_workflow {

using sql::Value;

// Objects often arrive without Issuer of Patient ID while the RIS always sends PID-3.4: an empty
// issuer on either side agrees with any (see kSamePatient).
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

bool same_patient_id(const std::string& id, const std::string& issuer, const std::string& other_id,
                     const std::string& other_issuer) {
  return id == other_id && (issuer.empty() || other_issuer.empty() || issuer == other_issuer);
}

void audit(sql::Connection& c, const std::string& actor, const std::string& action,
           const std::string& subject, const std::string& detail) {
  const Value params[] = {wall_clock_ms(), actor, action, subject, detail};
  c.query(
      "INSERT INTO workflow_audit (at_ms, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
      params);
}

namespace {

void set_link(sql::Connection& c, const std::string& study_uid, std::optional<std::int64_t> order,
              const std::string& state, const std::string& reason) {
  const Value params[] = {
      study_uid, order ? Value{*order} : Value{}, state, reason, wall_clock_ms(), wall_clock_ms()};
  c.query(
      "INSERT INTO study_links (study_uid, order_pk, state, reason, updated_ms, last_instance_ms) "
      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (study_uid) DO UPDATE SET "
      "order_pk = excluded.order_pk, state = excluded.state, reason = excluded.reason, "
      "updated_ms = excluded.updated_ms",
      params);
  if (order) {
    const Value started[] = {*order};
    c.query("UPDATE worklist SET status = 'STARTED' WHERE order_pk = ? AND status = 'SCHEDULED'",
            started);
  }
}

// The study's patient takes the order's name, birth date and sex where the order has them. The
// audit names the attributes changed, not their values.
void coerce_from_order(sql::Connection& c, const std::string& study_uid, std::int64_t order,
                       const std::string& actor) {
  const Value key[] = {order, study_uid};
  const auto rows = c.query(
      "SELECT o.patient_name, o.patient_birth_date, o.patient_sex, p.pk, p.name, p.birth_date, "
      "p.sex FROM orders o, studies st JOIN patients p ON p.pk = st.patient_pk "
      "WHERE o.pk = ? AND st.study_uid = ?",
      key);
  if (rows.empty()) return;
  const auto& r = rows[0];
  PatientValues values;
  std::string changed;
  const auto take = [&](std::string from_order, const std::string& current,
                        std::optional<std::string>& field, const char* what) {
    if (from_order.empty() || from_order == current) return;
    field = std::move(from_order);
    changed += (changed.empty() ? "" : ", ") + std::string(what);
  };
  take(normalized_person_name(r.text(0)), r.text(4), values.name, "name");
  take(r.text(1), r.text(5), values.birth_date, "birth date");
  take(r.text(2), r.text(6), values.sex, "sex");
  if (changed.empty()) return;
  sql_patients::update_index_patient(c, r.integer(3), values);
  audit(c, actor, "coerce", study_uid, "patient " + changed + " from the order");
}

}  // namespace

void move_study_to_patient(sql::Connection& c, const std::string& study_uid,
                           const PatientValues& known, const std::string& actor,
                           const std::string& whose) {
  const std::string& id = *known.patient_id;
  const std::string& issuer = *known.issuer_of_patient_id;
  const Value key[] = {study_uid};
  const auto rows = c.query(
      "SELECT st.pk, st.patient_pk, st.num_series, st.num_instances, p.patient_id, p.issuer, "
      "p.attributes FROM studies st JOIN patients p ON p.pk = st.patient_pk "
      "WHERE st.study_uid = ?",
      key);
  if (rows.empty()) return;
  const auto& r = rows[0];
  if (id.empty() || same_patient_id(r.text(4), r.text(5), id, issuer)) return;
  lock_patient(c, id, issuer);
  const std::int64_t from = r.integer(1);
  std::int64_t to = 0;
  if (const auto rows_of_patient = sql_patients::index_patients(c, id, issuer);
      !rows_of_patient.empty()) {
    to = rows_of_patient.front();
  } else {
    PatientValues values = known;
    values.name = normalized_person_name(known.name.value_or(""));
    const Value row[] = {id,
                         issuer,
                         *values.name,
                         person_name_key(*values.name),
                         known.birth_date.value_or(""),
                         known.sex.value_or(""),
                         sql::Blob{with_patient_values(r.blob(6), values)}};
    to = c.query(
              "INSERT INTO patients (patient_id, issuer, name, name_key, birth_date, sex, "
              "attributes) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING pk",
              row)
             .at(0)
             .integer(0);
  }
  const Value move[] = {to, r.integer(0)};
  c.query("UPDATE studies SET patient_pk = ? WHERE pk = ?", move);
  const Value gained[] = {r.integer(2), r.integer(3), to};
  c.query(
      "UPDATE patients SET num_studies = num_studies + 1, num_series = num_series + ?, "
      "num_instances = num_instances + ?, demographics_changed = 1 WHERE pk = ?",
      gained);
  const Value lost[] = {r.integer(2), r.integer(3), from};
  c.query(
      "UPDATE patients SET num_studies = num_studies - 1, num_series = num_series - ?, "
      "num_instances = num_instances - ? WHERE pk = ?",
      lost);
  const Value emptied[] = {from};
  c.query("DELETE FROM patients WHERE pk = ? AND num_studies = 0", emptied);
  sql_outbox::announce_again(c, study_uid);
  audit(c, actor, "move", study_uid,
        "to " + whose + " (Patient ID " + id + ", was " + r.text(4) + ")");
}

namespace {

// The patient an order names, with the order's demographics.
PatientValues order_patient(sql::Connection& c, std::int64_t order) {
  const Value key[] = {order};
  const auto rows = c.query(
      "SELECT patient_id, issuer, patient_name, patient_birth_date, patient_sex FROM orders "
      "WHERE pk = ?",
      key);
  if (rows.empty()) return {};
  const auto& r = rows[0];
  return {r.text(0), r.text(1), r.text(2), r.text(3), r.text(4)};
}

// Links a study to its order (the reason shows in the list, the detail in the audit).
void link(sql::Connection& c, const std::string& study_uid, std::int64_t order,
          const std::string& actor, const std::string& reason, const std::string& detail,
          const WorkflowPolicy& policy) {
  set_link(c, study_uid, order, "linked", reason);
  sql_outbox::announce_again(c, study_uid);
  audit(c, actor, "link", study_uid, detail);
  if (policy.coerce_demographics_from_order) coerce_from_order(c, study_uid, order, actor);
}

// Finds the order of a study and links the study to it, or records why not (unless told that
// the study is on the unreconciled list already).
void reconcile(sql::Connection& c, const std::string& study_uid,
               const std::string& accession_number, const std::string& patient_id,
               const std::string& issuer_of_patient_id, const WorkflowPolicy& policy,
               bool record_unmatched = true) {
  // The order with this Study Instance UID, else the one with this Accession Number.
  const Value by_uid[] = {study_uid};
  auto rows = c.query(
      "SELECT pk, patient_id, issuer FROM orders WHERE study_uid = ? AND status <> 'CANCELLED' "
      "ORDER BY pk DESC LIMIT 1",
      by_uid);
  const char* matched_by = "Study Instance UID";
  if (rows.empty() && !accession_number.empty()) {
    const Value by_accession[] = {accession_number};
    rows = c.query(
        "SELECT pk, patient_id, issuer FROM orders WHERE accession_number = ? AND "
        "status <> 'CANCELLED' ORDER BY pk DESC LIMIT 1",
        by_accession);
    matched_by = "Accession Number";
  }
  std::string reason;
  if (rows.empty()) {
    reason = "no order has this Study Instance UID or Accession Number";
  } else if (const std::string order_patient = rows[0].text(1);
             same_patient_id(order_patient, rows[0].text(2), patient_id, issuer_of_patient_id)) {
    reason = std::string("matched by ") + matched_by;
    link(c, study_uid, rows[0].integer(0), "pacsnode", reason, reason, policy);
    return;
  } else {
    reason = std::string("the order with this ") + matched_by +
             " is for another patient (Patient ID " + order_patient + ", the study's " +
             patient_id + ")";
  }
  if (!record_unmatched) return;
  set_link(c, study_uid, std::nullopt, "unreconciled", reason);
  audit(c, "pacsnode", "unreconciled", study_uid, reason);
}

// A new or changed order may be the one a study without an order waited for (it arrived first):
// an unreconciled one, or one an operator linked to its patient.
void reconcile_waiting_studies(sql::Connection& c, const OrderRecord& o,
                               const WorkflowPolicy& policy) {
  const Value key[] = {o.study_uid, o.accession_number, o.accession_number};
  for (const auto& r :
       c.query("SELECT st.study_uid, st.accession_number, p.patient_id, p.issuer FROM studies st "
               "JOIN patients p ON p.pk = st.patient_pk JOIN study_links l ON l.study_uid = "
               "st.study_uid WHERE l.order_pk IS NULL AND (st.study_uid = ? OR "
               "(? <> '' AND st.accession_number = ?))",
               key))
    reconcile(c, r.text(0), r.text(1), r.text(2), r.text(3), policy, false);
}

// An order the RIS now sends for another patient (IHE RAD-13 with a changed PID-3): the patient it
// named before was the same person under an identifier now given up, as in ADT^A40, so that
// patient's studies, orders and worklist items move to the order's new patient.
Result<void> follow_patient_change(sql::Connection& c, std::int64_t order, const OrderRecord& o) {
  const Value key[] = {order};
  const auto rows = c.query("SELECT patient_id, issuer FROM orders WHERE pk = ?", key);
  if (rows.empty()) return {};
  const std::string prior_id = rows[0].text(0), prior_issuer = rows[0].text(1);
  if (prior_id.empty() ||
      same_patient_id(prior_id, prior_issuer, o.patient_id, o.issuer_of_patient_id))
    return {};
  PatientChange change;
  change.patient_id = o.patient_id;
  change.issuer_of_patient_id = o.issuer_of_patient_id;
  change.merge = true;
  change.prior_patient_id = prior_id;
  change.prior_issuer_of_patient_id = prior_issuer;
  lock_patient(c, change.patient_id, change.issuer_of_patient_id);
  lock_patient(c, prior_id, prior_issuer);
  if (auto merged = sql_patients::merge(c, change, "ris"); !merged)
    return tl::unexpected(merged.error());
  audit(c, "ris", "merge", o.placer_order + "/" + o.filler_order,
        "the order's patient changed: Patient ID " + prior_id + " merged into " + o.patient_id);
  return {};
}

// An order that exists keeps the Study Instance UID it was given when a change carries none
// (the one generated for the message is dropped, in its worklist items too): the change as it is
// to be applied, or nullopt when it stands as it is.
std::optional<OrderRecord> with_known_study_uid(sql::Connection& c, std::int64_t order,
                                                const OrderRecord& o) {
  const Value key[] = {order};
  const auto rows = c.query("SELECT study_uid FROM orders WHERE pk = ?", key);
  if (rows.empty() || rows[0].text(0).empty() || rows[0].text(0) == o.study_uid)
    return std::nullopt;
  OrderRecord kept = o;
  kept.study_uid = rows[0].text(0);
  kept.study_uid_generated = false;
  for (WorklistItem& step : kept.steps)
    step.attributes = with_study_uid(step.attributes, kept.study_uid);
  return kept;
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
  if (m.replaces > 0) {
    const Value dead[] = {m.replaces};
    c.query("DELETE FROM hl7_messages WHERE pk = ? AND state = 'dead'", dead);
  }
  const bool dead_letter = m.ack_code != "AA" && !m.message.empty();
  const Value params[] = {m.sender,
                          m.control_id,
                          m.message_type,
                          m.ack_code,
                          m.ack,
                          wall_clock_ms(),
                          dead_letter ? m.message : std::string(),
                          std::string(dead_letter ? "dead" : "")};
  if (c.query("INSERT INTO hl7_messages (sender, control_id, message_type, ack_code, ack, "
              "received_ms, message, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO "
              "NOTHING RETURNING pk",
              params)
          .empty())
    return false;
  const Value key[] = {m.sender, m.control_id};
  c.query("DELETE FROM hl7_failures WHERE sender = ? AND control_id = ?", key);
  return true;
}

Result<void> apply_order(sql::Connection& c, const OrderChange& change,
                         const WorkflowPolicy& policy) {
  auto pk = order_pk(c, change.order.placer_order, change.order.filler_order);
  const std::int64_t now = wall_clock_ms();
  if (change.action == OrderAction::Schedule) {
    std::map<std::string, std::string> progress;  // sps_id -> status, of the order's steps
    const bool changed_order = pk.has_value();
    const std::optional<OrderRecord> keeping_uid = pk && change.order.study_uid_generated
                                                       ? with_known_study_uid(c, *pk, change.order)
                                                       : std::nullopt;
    const OrderRecord& o = keeping_uid ? *keeping_uid : change.order;
    if (pk) {
      if (auto moved = follow_patient_change(c, *pk, o); !moved) return moved;
      const Value params[] = {o.placer_order,
                              o.filler_order,
                              o.accession_number,
                              o.requested_procedure_id,
                              o.study_uid,
                              o.patient_id,
                              o.issuer_of_patient_id,
                              o.patient_name,
                              o.patient_birth_date,
                              o.patient_sex,
                              now,
                              *pk};
      c.query(
          "UPDATE orders SET placer_order = ?, filler_order = ?, accession_number = ?, "
          "requested_procedure_id = ?, study_uid = ?, patient_id = ?, issuer = ?, "
          "patient_name = ?, patient_birth_date = ?, patient_sex = ?, status = CASE WHEN status = "
          "'CANCELLED' THEN 'SCHEDULED' ELSE "
          "status END, updated_ms = ? WHERE pk = ?",
          params);
      // A change of details keeps the progress of the steps it keeps (STARTED stays STARTED).
      const Value order_param[] = {*pk};
      for (const auto& r :
           c.query("SELECT sps_id, status FROM worklist WHERE order_pk = ?", order_param))
        progress[r.text(0)] = r.text(1);
      c.query("DELETE FROM worklist WHERE order_pk = ?", order_param);
    } else {
      const Value params[] = {o.placer_order,
                              o.filler_order,
                              o.accession_number,
                              o.requested_procedure_id,
                              o.study_uid,
                              o.patient_id,
                              o.issuer_of_patient_id,
                              o.patient_name,
                              o.patient_birth_date,
                              o.patient_sex,
                              now};
      auto inserted = c.query(
          "INSERT INTO orders (placer_order, filler_order, accession_number, "
          "requested_procedure_id, study_uid, patient_id, issuer, patient_name, "
          "patient_birth_date, patient_sex, updated_ms) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
          params);
      pk = inserted.at(0).integer(0);
      sql_timeline::record(c, pk, o.study_uid, step::kOrderReceived,
                           o.placer_order + "/" + o.filler_order);
      sql_reconciliation::note_order_patient(c, *pk, o);
    }
    for (const WorklistItem& step : o.steps) {
      const auto kept = progress.find(step.sps_id);
      const Value params[] = {*pk,
                              step.sps_id,
                              kept == progress.end() ? std::string("SCHEDULED") : kept->second,
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
          "INSERT INTO worklist (order_pk, sps_id, status, station_aet, modality, start_date, "
          "start_time, patient_id, issuer, patient_name, name_key, accession_number, "
          "requested_procedure_id, study_uid, attributes) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          params);
    }
    reconcile_waiting_studies(c, o, policy);
    // The studies it has take the order's corrected demographics.
    if (changed_order && policy.coerce_demographics_from_order) {
      const Value order_param[] = {*pk};
      for (const auto& r :
           c.query("SELECT study_uid FROM study_links WHERE order_pk = ? AND state = 'linked'",
                   order_param))
        coerce_from_order(c, r.text(0), *pk, "ris");
    }
  } else {
    const OrderRecord& o = change.order;
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

Result<void> apply_patient_change(sql::Connection& c, const PatientChange& change,
                                  const std::string& actor) {
  // An ID without its issuer that two authorities use names nobody in particular.
  if (auto one = one_authority(c, change.patient_id, change.issuer_of_patient_id); !one) return one;
  if (change.merge)
    if (auto one = one_authority(c, change.prior_patient_id, change.prior_issuer_of_patient_id);
        !one)
      return one;
  lock_patient(c, change.patient_id, change.issuer_of_patient_id);
  if (change.merge) {
    lock_patient(c, change.prior_patient_id, change.prior_issuer_of_patient_id);
    if (auto merged = sql_patients::merge(c, change, actor); !merged)
      return tl::unexpected(merged.error());
  }
  for (const std::int64_t pk :
       sql_patients::index_patients(c, change.patient_id, change.issuer_of_patient_id))
    sql_patients::update_index_patient(c, pk, change.demographics);
  sql_patients::update_scheduled(c, change.patient_id, change.issuer_of_patient_id,
                                 change.demographics);
  return {};
}

void reconcile_new_study(sql::Connection& c, const std::string& study_uid,
                         const std::string& accession_number, const std::string& patient_id,
                         const std::string& issuer_of_patient_id, const WorkflowPolicy& policy) {
  reconcile(c, study_uid, accession_number, patient_id, issuer_of_patient_id, policy);
  sql_timeline::record(c, std::nullopt, study_uid, step::kFirstInstance, "");
}

std::vector<StudyLink> study_links(sql::Connection& c, const std::string& state,
                                   std::size_t limit) {
  std::vector<Value> params;
  std::string sql =
      "SELECT l.study_uid, l.state, l.reason, COALESCE(o.placer_order, ''), "
      "COALESCE(o.filler_order, ''), COALESCE(o.accession_number, ''), "
      "COALESCE(p.patient_id, ''), l.updated_ms FROM study_links l "
      "LEFT JOIN orders o ON o.pk = l.order_pk "
      "LEFT JOIN studies st ON st.study_uid = l.study_uid "
      "LEFT JOIN patients p ON p.pk = st.patient_pk";
  if (!state.empty()) {
    sql += " WHERE l.state = ?";
    params.push_back(state);
  }
  sql += " ORDER BY l.updated_ms DESC, l.pk DESC LIMIT " + std::to_string(limit);
  std::vector<StudyLink> out;
  for (const auto& r : c.query(sql, params))
    out.push_back({r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5), r.text(6),
                   r.integer(7)});
  return out;
}

Result<void> link_study(sql::Connection& c, const std::string& study_uid,
                        const std::string& placer_order, const std::string& filler_order,
                        const std::string& actor, const WorkflowPolicy& policy) {
  const Value study_key[] = {study_uid};
  if (c.query("SELECT 1 FROM studies WHERE study_uid = ?", study_key).empty())
    return fail(ErrorCode::NotFound, "no study " + study_uid);
  const auto order = order_pk(c, placer_order, filler_order);
  if (!order) return fail(ErrorCode::NotFound, "no such order");
  if (const PatientValues patient = order_patient(c, *order); patient.patient_id)
    move_study_to_patient(c, study_uid, patient, actor, "the order's patient");
  link(c, study_uid, *order, actor, "linked by " + actor,
       "to order placer '" + placer_order + "' filler '" + filler_order + "'", policy);
  return {};
}

Result<void> one_authority(sql::Connection& c, const std::string& id, const std::string& issuer) {
  // Patients the index holds studies of, and those only an order names so far.
  auto who = same_patient(id, issuer);
  const auto more = same_patient(id, issuer);
  who.insert(who.end(), more.begin(), more.end());
  const auto issuers = c.query(std::string("SELECT COUNT(DISTINCT issuer) FROM (SELECT issuer "
                                           "FROM patients WHERE ") +
                                   kSamePatient + " AND issuer <> '' UNION SELECT issuer FROM " +
                                   "orders WHERE " + kSamePatient + " AND issuer <> '') AS named",
                               who);
  if (issuers.at(0).integer(0) > 1)
    return fail(ErrorCode::InvalidArgument,
                "Patient ID " + id +
                    " is issued by more than one authority: name the Issuer of Patient ID");
  return {};
}

Result<void> link_study_to_patient(sql::Connection& c, const std::string& study_uid,
                                   const std::string& patient_id, const std::string& issuer,
                                   const std::string& actor) {
  if (patient_id.empty()) return fail(ErrorCode::InvalidArgument, "name the patient's Patient ID");
  const Value study_key[] = {study_uid};
  if (c.query("SELECT 1 FROM studies WHERE study_uid = ?", study_key).empty())
    return fail(ErrorCode::NotFound, "no study " + study_uid);
  // The patient as the index knows it (from stored studies), else as an order names it. Without
  // an issuer, the ID must name one patient only: two hospitals' "12345" are two people.
  if (auto one = one_authority(c, patient_id, issuer); !one) return one;
  const auto who = same_patient(patient_id, issuer);
  auto rows = c.query(std::string("SELECT patient_id, issuer, name, birth_date, sex FROM patients "
                                  "WHERE ") +
                          kSamePatient + " ORDER BY issuer DESC, pk LIMIT 1",
                      who);
  if (rows.empty())
    rows = c.query(std::string("SELECT patient_id, issuer, patient_name, patient_birth_date, "
                               "patient_sex FROM orders WHERE ") +
                       kSamePatient + " ORDER BY pk DESC LIMIT 1",
                   who);
  if (rows.empty())
    return fail(ErrorCode::NotFound, "no patient with Patient ID " + patient_id +
                                         " is known (from stored studies or orders)");
  const auto& r = rows[0];
  move_study_to_patient(c, study_uid, {r.text(0), r.text(1), r.text(2), r.text(3), r.text(4)},
                        actor, "the patient an operator chose");
  // No order: a later order for the study still links it (see reconcile_waiting_studies).
  set_link(c, study_uid, std::nullopt, "linked", "linked to a patient by " + actor);
  audit(c, actor, "link", study_uid, "to patient (Patient ID " + r.text(0) + ")");
  return {};
}

namespace {

// The worklist status a performed step's status stands for.
std::string step_status_of(const std::string& mpps_status) {
  if (mpps_status == "IN PROGRESS") return "STARTED";
  if (mpps_status == "COMPLETED") return "COMPLETED";
  if (mpps_status == "DISCONTINUED") return "DISCONTINUED";
  return {};
}

// The order a performed step performs: by Study Instance UID, else by Accession Number.
std::optional<std::int64_t> performed_order(sql::Connection& c, const MppsRecord& m) {
  for (const auto& [column, value] :
       {std::pair<const char*, const std::string*>{"study_uid", &m.study_uid},
        {"accession_number", &m.accession_number}}) {
    if (value->empty()) continue;
    const Value key[] = {*value};
    auto rows = c.query(std::string("SELECT pk FROM orders WHERE ") + column +
                            " = ? AND status <> 'CANCELLED' ORDER BY pk DESC LIMIT 1",
                        key);
    if (!rows.empty()) return rows[0].integer(0);
  }
  return std::nullopt;
}

void follow_mpps(sql::Connection& c, const MppsRecord& m, const std::vector<std::string>& notify) {
  const auto order = performed_order(c, m);
  // On the timeline before what it causes (the study's completion).
  const char* performed = m.status == "IN PROGRESS"    ? step::kMppsInProgress
                          : m.status == "COMPLETED"    ? step::kMppsCompleted
                          : m.status == "DISCONTINUED" ? step::kMppsDiscontinued
                                                       : nullptr;
  if (performed) sql_timeline::record_once(c, order, m.study_uid, performed, m.sop_instance_uid);
  if (!m.study_uid.empty()) {
    // The RIS hears of every status (IHE RAD-7 forwarded as an order status); a COMPLETED step
    // completes its study when its images are stored (else their quiet period will).
    sql_outbox::enqueue(c, notify, "procedure-status", m.study_uid, m.status);
    if (m.status == "COMPLETED") sql_outbox::complete_study(c, m.study_uid, notify);
  }
  const std::string status = step_status_of(m.status);
  if (status.empty() || !order) return;
  const Value order_status[] = {status, wall_clock_ms(), *order};
  c.query("UPDATE orders SET status = ?, updated_ms = ? WHERE pk = ?", order_status);
  // The scheduled step it names, or every step of the order when it names none.
  if (!m.sps_id.empty()) {
    const Value step[] = {status, *order, m.sps_id};
    c.query("UPDATE worklist SET status = ? WHERE order_pk = ? AND sps_id = ?", step);
  } else {
    const Value steps[] = {status, *order};
    c.query("UPDATE worklist SET status = ? WHERE order_pk = ?", steps);
  }
}

}  // namespace

Result<void> create_mpps(sql::Connection& c, const MppsRecord& m,
                         const std::vector<std::string>& notify) {
  const Value params[] = {m.sop_instance_uid, m.status, m.study_uid,
                          m.accession_number, m.sps_id, sql::Blob{m.attributes},
                          wall_clock_ms()};
  if (c.query("INSERT INTO mpps (sop_uid, status, study_uid, accession_number, sps_id, "
              "attributes, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
              "RETURNING pk",
              params)
          .empty())
    return fail(ErrorCode::Duplicate, "performed procedure step " + m.sop_instance_uid + " exists");
  follow_mpps(c, m, notify);
  audit(c, "modality", "mpps " + m.status, m.sop_instance_uid, "study " + m.study_uid);
  return {};
}

std::optional<MppsRecord> find_mpps(sql::Connection& c, const std::string& sop_instance_uid) {
  const Value key[] = {sop_instance_uid};
  auto rows = c.query(
      "SELECT sop_uid, status, study_uid, accession_number, sps_id, attributes FROM mpps "
      "WHERE sop_uid = ?",
      key);
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  return MppsRecord{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.blob(5)};
}

Result<void> update_mpps(sql::Connection& c, const MppsRecord& m,
                         const std::vector<std::string>& notify) {
  const Value params[] = {
      m.status,        m.study_uid,       m.accession_number, m.sps_id, sql::Blob{m.attributes},
      wall_clock_ms(), m.sop_instance_uid};
  if (c.query("UPDATE mpps SET status = ?, study_uid = ?, accession_number = ?, sps_id = ?, "
              "attributes = ?, updated_ms = ? WHERE sop_uid = ? RETURNING pk",
              params)
          .empty())
    return fail(ErrorCode::NotFound, "no performed procedure step " + m.sop_instance_uid);
  follow_mpps(c, m, notify);
  audit(c, "modality", "mpps " + m.status, m.sop_instance_uid, "study " + m.study_uid);
  return {};
}

std::optional<ReportRecord> find_report(sql::Connection& c, const std::string& study_uid) {
  const Value key[] = {study_uid};
  auto rows = c.query(
      "SELECT r.study_uid, r.accession_number, COALESCE(o.placer_order, ''), "
      "COALESCE(o.filler_order, ''), r.status, r.text, r.observer, r.observed, r.sr_sop_uid, "
      "r.updated_ms FROM reports r LEFT JOIN orders o ON o.pk = r.order_pk WHERE r.study_uid = ?",
      key);
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  return ReportRecord{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4),
                      r.text(5), r.text(6), r.text(7), r.text(8), r.integer(9)};
}

std::string save_report(sql::Connection& c, const ReportRecord& r) {
  std::string replaced;
  if (auto earlier = find_report(c, r.study_uid)) replaced = earlier->sr_sop_uid;
  const auto order = order_pk(c, r.placer_order, r.filler_order);
  const Value params[] = {r.study_uid,
                          order ? Value{*order} : Value{},
                          r.accession_number,
                          r.status,
                          r.text,
                          r.observer,
                          r.observed,
                          r.sr_sop_uid,
                          wall_clock_ms()};
  c.query(
      "INSERT INTO reports (study_uid, order_pk, accession_number, status, text, observer, "
      "observed, sr_sop_uid, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (study_uid) DO UPDATE SET order_pk = excluded.order_pk, "
      "accession_number = excluded.accession_number, status = excluded.status, "
      "text = excluded.text, observer = excluded.observer, observed = excluded.observed, "
      "sr_sop_uid = excluded.sr_sop_uid, updated_ms = excluded.updated_ms",
      params);
  audit(c, "ris", "report " + r.status, r.study_uid, "SR " + r.sr_sop_uid);
  sql_timeline::record(c, order, r.study_uid, step::kReportReceived, r.status);
  return replaced;
}

}  // namespace pacs::sql_workflow
