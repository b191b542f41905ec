// The imaging workflow's rows in the index: orders and their worklist items, patient updates and
// merges from ADT, and the record of processed HL7 messages. Each function runs inside the caller's
// transaction, on either SQL backend.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/model/orders.h"
#include "storage/model/result.h"
#include "storage/sql/connection.h"

namespace pacs::sql_workflow {

// PostgreSQL: a change to a patient's rows takes the patient's turn, as ingest does (the same
// advisory lock key), so counts and rows change under one writer at a time. No-op on SQLite.
void lock_patient(sql::Connection& c, const std::string& id, const std::string& issuer);
// A study an operator links to another patient becomes that patient's: the patient's row (created
// from `known` if the index has none) takes the study and its counts; a patient left without
// studies goes. Retrieved objects then carry the new Patient ID. `known` names the patient
// (Patient ID and issuer, which must be set) and the demographics a new row starts from; `whose`
// says in the audit where the patient came from.
void move_study_to_patient(sql::Connection& c, const std::string& study_uid,
                           const PatientValues& known, const std::string& actor,
                           const std::string& whose);
// A row of the workflow's record of changes: who did what to which subject (a UID, an order).
void audit(sql::Connection& c, const std::string& actor, const std::string& action,
           const std::string& subject, const std::string& detail);

// Rows of one patient: the same Patient ID, and the same issuer where both sides name one. The
// condition takes same_patient(id, issuer) as its parameters.
inline constexpr const char* kSamePatient =
    "patient_id = ? AND (issuer = ? OR issuer = '' OR ? = '')";
std::vector<sql::Value> same_patient(const std::string& id, const std::string& issuer);
// The same rule in C++: Patient IDs agree when equal, and their issuers where both name one.
bool same_patient_id(const std::string& id, const std::string& issuer, const std::string& other_id,
                     const std::string& other_issuer);
// InvalidArgument when the Patient ID, without an issuer, names patients of more than one
// authority in the index: two hospitals' "12345" are two people.
Result<void> one_authority(sql::Connection& c, const std::string& id, const std::string& issuer);

// The order a message names: by filler order number, or by placer order number without one.
std::optional<std::int64_t> order_pk(sql::Connection& c, const std::string& placer,
                                     const std::string& filler);
// False when the sender's control ID is recorded already.
bool insert_message(sql::Connection& c, const MessageRecord& m);
// NotFound when a Cancel or SetStatus names no known order.
// An order for another patient than before merges its earlier patient into the new one; a new or
// changed order links the unreconciled studies it matches.
Result<void> apply_order(sql::Connection& c, const OrderChange& change,
                         const WorkflowPolicy& policy);
// Demographics to the patient's rows (index, orders, worklist items); a merge moves the prior
// patient's studies, orders and worklist items to the surviving patient first, journaled with
// the actor (see sql_patients::merge for its refusals).
Result<void> apply_patient_change(sql::Connection& c, const PatientChange& change,
                                  const std::string& actor);

// A study's first instance: links the study to the order with its Study Instance UID, else with
// its Accession Number, when the patient agrees; otherwise puts it on the unreconciled list with
// the reason. The order's worklist items are then STARTED, and the study's patient takes the
// order's demographics if the policy says so.
void reconcile_new_study(sql::Connection& c, const std::string& study_uid,
                         const std::string& accession_number, const std::string& patient_id,
                         const std::string& issuer_of_patient_id, const WorkflowPolicy& policy);
std::vector<StudyLink> study_links(sql::Connection& c, const std::string& state, std::size_t limit);
Result<void> link_study(sql::Connection& c, const std::string& study_uid,
                        const std::string& placer_order, const std::string& filler_order,
                        const std::string& actor, const WorkflowPolicy& policy);
Result<void> link_study_to_patient(sql::Connection& c, const std::string& study_uid,
                                   const std::string& patient_id, const std::string& issuer,
                                   const std::string& actor);

// MPPS rows; the worklist item and order follow the step's status.
Result<void> create_mpps(sql::Connection& c, const MppsRecord& mpps,
                         const std::vector<std::string>& notify);
std::optional<MppsRecord> find_mpps(sql::Connection& c, const std::string& sop_instance_uid);
Result<void> update_mpps(sql::Connection& c, const MppsRecord& mpps,
                         const std::vector<std::string>& notify);

std::optional<ReportRecord> find_report(sql::Connection& c, const std::string& study_uid);
// Returns the SR instance UID of the report it replaced ("" for none).
std::string save_report(sql::Connection& c, const ReportRecord& report);

}  // namespace pacs::sql_workflow
