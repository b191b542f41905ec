#include "storage/sql_reconciliation.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>

#include "storage/dicom_attributes.h"
#include "storage/find_sql.h"
#include "storage/model/clock.h"
#include "storage/model/demographics.h"
#include "storage/sql_workflow.h"

namespace pacs::sql_reconciliation {
namespace {

using sql::Value;

void insert_conflict(sql::Connection& c, const PatientFacts& arrived, const std::string& study_uid,
                     std::optional<std::int64_t> order_pk) {
  const Value row[] = {arrived.patient_id,
                       arrived.issuer_of_patient_id,
                       arrived.name,
                       arrived.birth_date,
                       arrived.sex,
                       study_uid,
                       order_pk ? Value(*order_pk) : Value(),
                       wall_clock_ms()};
  c.query(
      "INSERT INTO identity_conflicts (patient_id, issuer, arrived_name, arrived_birth_date, "
      "arrived_sex, study_uid, order_pk, detected_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      row);
}

PatientFacts patient_of(const sql::Row& r, int first) {
  return {r.text(first), r.text(first + 1), r.text(first + 2), r.text(first + 3),
          r.text(first + 4)};
}

// Sorted by tag, as decode_attributes wants them.
const DcmTagKey kPatientKeys[] = {DCM_PatientName, DCM_PatientBirthDate, DCM_PatientSex};

// The patient as the study's own objects name it (the first instance's values).
PatientFacts arrived_patient(sql::Connection& c, const std::string& study_uid) {
  const Value key[] = {study_uid};
  const auto rows = c.query(
      "SELECT i.attributes FROM instances i JOIN series se ON se.pk = i.series_pk "
      "JOIN studies st ON st.pk = se.study_pk WHERE st.study_uid = ? ORDER BY i.pk LIMIT 1",
      key);
  PatientFacts out;
  DcmDataset values;
  if (rows.empty() || !decode_attributes(rows[0].blob(0), values, kPatientKeys)) return out;
  out.name = attribute_text(values, DCM_PatientName);
  out.birth_date = attribute_text(values, DCM_PatientBirthDate);
  out.sex = attribute_text(values, DCM_PatientSex);
  return out;
}

}  // namespace

void note_study_patient(sql::Connection& c, std::int64_t patient_pk, const std::string& study_uid,
                        const PatientFacts& arrived) {
  const Value key[] = {patient_pk};
  const auto rows = c.query("SELECT name, birth_date FROM patients WHERE pk = ?", key);
  if (rows.empty() ||
      !demographics_conflict(rows[0].text(0), rows[0].text(1), arrived.name, arrived.birth_date))
    return;
  insert_conflict(c, arrived, study_uid, std::nullopt);
}

void note_order_patient(sql::Connection& c, std::int64_t order_pk, const OrderRecord& order) {
  if (order.patient_id.empty()) return;
  // The patient as the index has it (an object's empty issuer agrees with the order's).
  const auto rows =
      c.query(std::string("SELECT patient_id, issuer, name, birth_date FROM patients WHERE ") +
                  sql_workflow::kSamePatient + " ORDER BY pk LIMIT 1",
              sql_workflow::same_patient(order.patient_id, order.issuer_of_patient_id));
  if (rows.empty() || !demographics_conflict(rows[0].text(2), rows[0].text(3), order.patient_name,
                                             order.patient_birth_date))
    return;
  insert_conflict(c,
                  {rows[0].text(0), rows[0].text(1), order.patient_name, order.patient_birth_date,
                   order.patient_sex},
                  "", order_pk);
}

ReconciliationFacts facts(sql::Connection& c, std::size_t limit) {
  ReconciliationFacts out;
  const std::string n = std::to_string(limit);
  for (const auto& r : c.query(
           // The study's own demographics where they contradict its patient's (an open conflict):
           // they are what the modality was told, and what a candidate must match.
           "SELECT l.study_uid, st.accession_number, st.study_date, st.study_time, st.modalities, "
           "p.patient_id, p.issuer, COALESCE(k.arrived_name, p.name), "
           "COALESCE(k.arrived_birth_date, p.birth_date), COALESCE(k.arrived_sex, p.sex), "
           "l.reason, l.updated_ms FROM study_links l "
           "JOIN studies st ON st.study_uid = l.study_uid "
           "JOIN patients p ON p.pk = st.patient_pk "
           "LEFT JOIN identity_conflicts k ON k.pk = (SELECT MAX(pk) FROM identity_conflicts "
           "WHERE study_uid = l.study_uid AND resolved_ms = 0) "
           "WHERE l.state = 'unreconciled' "
           "ORDER BY l.updated_ms DESC, l.pk DESC LIMIT " +
           n))
    out.unscheduled.push_back({r.text(0), r.text(1), r.text(2), r.text(3), r.text(4),
                               patient_of(r, 5), r.text(10), r.integer(11)});
  // Orders that wait for images: not cancelled or discontinued, no study linked; the first
  // step's modality and start.
  for (const auto& r :
       c.query("SELECT o.placer_order, o.filler_order, o.accession_number, o.status, o.patient_id, "
               "o.issuer, o.patient_name, o.patient_birth_date, o.patient_sex, "
               "COALESCE((SELECT w.modality FROM worklist w WHERE w.order_pk = o.pk "
               "ORDER BY w.start_date, w.start_time LIMIT 1), ''), "
               "COALESCE((SELECT w.start_date FROM worklist w WHERE w.order_pk = o.pk "
               "ORDER BY w.start_date, w.start_time LIMIT 1), ''), "
               "COALESCE((SELECT w.start_time FROM worklist w WHERE w.order_pk = o.pk "
               "ORDER BY w.start_date, w.start_time LIMIT 1), '') "
               "FROM orders o WHERE o.status NOT IN ('CANCELLED', 'DISCONTINUED') AND NOT EXISTS "
               "(SELECT 1 FROM study_links l WHERE l.order_pk = o.pk AND l.state = 'linked') "
               "ORDER BY o.pk DESC LIMIT " +
               n))
    out.open_orders.push_back({r.text(0), r.text(1), r.text(2), r.text(3), patient_of(r, 4),
                               r.text(9), r.text(10), r.text(11)});
  for (const auto& r :
       c.query("SELECT k.pk, k.patient_id, k.issuer, k.arrived_name, k.arrived_birth_date, "
               "k.arrived_sex, k.study_uid, COALESCE(o.placer_order, ''), "
               "COALESCE(o.filler_order, ''), k.detected_ms, p.patient_id, p.issuer, p.name, "
               "p.birth_date, p.sex FROM identity_conflicts k "
               "JOIN patients p ON p.patient_id = k.patient_id AND p.issuer = k.issuer "
               "LEFT JOIN orders o ON o.pk = k.order_pk WHERE k.resolved_ms = 0 "
               "ORDER BY k.pk DESC LIMIT " +
               n)) {
    IdentityConflict conflict;
    conflict.id = r.integer(0);
    conflict.arrived = patient_of(r, 1);
    conflict.study_uid = r.text(6);
    conflict.placer_order = r.text(7);
    conflict.filler_order = r.text(8);
    conflict.detected_ms = r.integer(9);
    conflict.known = patient_of(r, 10);
    if (!demographics_conflict(conflict.known.name, conflict.known.birth_date,
                               conflict.arrived.name, conflict.arrived.birth_date))
      continue;
    // Who else the arrived name is: the study may belong to one of them.
    const Value name_key[] = {person_name_key(normalized_person_name(conflict.arrived.name)),
                              conflict.known.patient_id, conflict.known.issuer_of_patient_id};
    for (const auto& p : c.query(
             "SELECT patient_id, issuer, name, birth_date, sex FROM patients WHERE name_key = ? "
             "AND NOT (patient_id = ? AND issuer = ?) ORDER BY pk LIMIT 10",
             name_key))
      conflict.namesakes.push_back(patient_of(p, 0));
    out.conflicts.push_back(std::move(conflict));
  }
  return out;
}

Result<void> resolve_conflict(sql::Connection& c, std::int64_t id, const std::string& actor,
                              const std::string& note) {
  const Value params[] = {wall_clock_ms(),
                          "resolved by " + actor + (note.empty() ? "" : ": ") + note, id};
  const auto done = c.query(
      "UPDATE identity_conflicts SET resolved_ms = ?, resolution = ? WHERE pk = ? AND "
      "resolved_ms = 0 RETURNING study_uid",
      params);
  if (done.empty()) return fail(ErrorCode::NotFound, "no open conflict " + std::to_string(id));
  sql_workflow::audit(c, actor, "resolve conflict",
                      done[0].text(0).empty() ? std::to_string(id) : done[0].text(0), note);
  return {};
}

Result<void> split_study(sql::Connection& c, const std::string& study_uid, const PatientFacts& to,
                         const std::string& actor) {
  if (to.patient_id.empty()) return fail(ErrorCode::InvalidArgument, "name the Patient ID");
  const Value key[] = {study_uid};
  const auto rows = c.query(
      "SELECT p.patient_id, p.issuer FROM studies st JOIN patients p ON p.pk = st.patient_pk "
      "WHERE st.study_uid = ?",
      key);
  if (rows.empty()) return fail(ErrorCode::NotFound, "no study " + study_uid);
  if (rows[0].text(0) == to.patient_id && rows[0].text(1) == to.issuer_of_patient_id)
    return fail(ErrorCode::InvalidArgument, "the study is that patient's already");
  // What the operator leaves out comes from the study's own objects: the modality's values.
  const PatientFacts own = arrived_patient(c, study_uid);
  auto or_own = [](const std::string& given, const std::string& fallback) {
    return given.empty() ? fallback : given;
  };
  PatientValues target;
  target.patient_id = to.patient_id;
  target.issuer_of_patient_id = to.issuer_of_patient_id;
  target.name = or_own(to.name, own.name);
  target.birth_date = or_own(to.birth_date, own.birth_date);
  target.sex = or_own(to.sex, own.sex);
  sql_workflow::move_study_to_patient(c, study_uid, target, actor, "a patient split off");
  const Value closing[] = {wall_clock_ms(),
                           "split off to Patient ID " + to.patient_id + " by " + actor, study_uid};
  c.query(
      "UPDATE identity_conflicts SET resolved_ms = ?, resolution = ? WHERE study_uid = ? AND "
      "resolved_ms = 0",
      closing);
  sql_workflow::audit(c, actor, "split", study_uid, "to Patient ID " + to.patient_id);
  return {};
}

}  // namespace pacs::sql_reconciliation
