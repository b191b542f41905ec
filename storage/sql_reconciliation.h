// The reconciliation work queue in the index: identity conflicts noted as studies and orders
// arrive, the facts the queue is ranked from (model/reconciliation.h), and the operator's actions
// that only this queue has: resolving a conflict and splitting a study off to another patient.
// Linking and merging are sql_workflow's and sql_patients'.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "storage/model/orders.h"
#include "storage/model/reconciliation.h"
#include "storage/model/result.h"
#include "storage/sql/connection.h"

namespace pacs::sql_reconciliation {

// A new study of a known patient (the row at patient_pk) whose own demographics (`arrived`, as
// the study's first instance has them) disagree with the patient's: an open conflict.
void note_study_patient(sql::Connection& c, std::int64_t patient_pk, const std::string& study_uid,
                        const PatientFacts& arrived);
// A new order for a patient the index holds studies of, naming other demographics.
void note_order_patient(sql::Connection& c, std::int64_t order_pk, const OrderRecord& order);

// The queue's raw facts, newest first, up to `limit` of each kind (the ranking pairs every
// unscheduled study with every open order: limit squared scores at most). A conflict whose patient
// now agrees with what arrived (an A08 fixed it) is left out.
ReconciliationFacts facts(sql::Connection& c, std::size_t limit);

// Closes an open conflict with the operator's note (NotFound: no such open conflict).
Result<void> resolve_conflict(sql::Connection& c, std::int64_t id, const std::string& actor,
                              const std::string& note);

// Moves a study to another patient, made from `to` where the index has none (values `to` leaves
// empty come from the study's own objects): a study filed under the wrong Patient ID. Resolves
// the study's open conflicts. InvalidArgument: no Patient ID, or the study's own patient;
// NotFound: no such study.
Result<void> split_study(sql::Connection& c, const std::string& study_uid, const PatientFacts& to,
                         const std::string& actor);

}  // namespace pacs::sql_reconciliation
