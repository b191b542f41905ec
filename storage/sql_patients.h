// A patient's rows in the index (patients, orders, worklist items) and the merges between
// patients: applied with a journal that keeps what each merge changed, so an undo restores it.
// Each function runs inside the caller's transaction, on either SQL backend; the caller holds the
// patients' locks (sql_workflow::lock_patient).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/model/merge.h"
#include "storage/model/orders.h"
#include "storage/model/result.h"
#include "storage/sql/connection.h"

namespace pacs::sql_patients {

// The index's rows of a patient (sql_workflow::kSamePatient), oldest first.
std::vector<std::int64_t> index_patients(sql::Connection& c, const std::string& id,
                                         const std::string& issuer);
// New values for one patient row: its columns and its attribute set.
void update_index_patient(sql::Connection& c, std::int64_t pk, const PatientValues& v);
// New values for the patient's orders and worklist items.
void update_scheduled(sql::Connection& c, const std::string& id, const std::string& issuer,
                      const PatientValues& v);

// Merges the prior patient (change.prior_*) into the surviving one (change.patient_id, issuer):
// the prior patient's studies, orders and worklist items become the survivor's, and the journal
// keeps both patients' rows as they were. Idempotent: when the prior patient is already gone into
// the survivor (directly or along a chain of merges) nothing is done and the record says
// already_applied. InvalidArgument for a self-merge and for a merge that would close a cycle (the
// survivor was merged into the prior patient before); NotFound when the prior patient is known
// nowhere and was never merged.
Result<MergeRecord> merge(sql::Connection& c, const PatientChange& change,
                          const std::string& actor);

// Undoes a merge: the patients' rows, their studies, orders and worklist items get back what the
// journal kept, so queries and retrieves answer as before the merge. NotFound for an unknown id;
// InvalidArgument when it was undone already, was journaled without its rows (before the journal
// kept them), or a later merge involved the same patients (undo that one first).
Result<MergeRecord> unmerge(sql::Connection& c, std::int64_t merge_id, const std::string& actor);

// The journal, newest first, up to limit; one entry by id.
std::vector<MergeRecord> merges(sql::Connection& c, std::size_t limit);
std::optional<MergeRecord> find_merge(sql::Connection& c, std::int64_t merge_id);

}  // namespace pacs::sql_patients
