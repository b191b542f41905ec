// The reconciliation work queue: what an operator should look at, each item with its match
// candidates ranked and the reasons for the ranking. Unscheduled studies get the open orders that
// could be theirs; orders without images past their scheduled time (plus a grace) get the
// unscheduled studies that could be theirs; identity conflicts get the patients the study could
// belong to (its recorded patient first when they may be one person). Pure ranking over the
// index's facts (storage/model/reconciliation.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/model/reconciliation.h"

namespace pacs {

struct MatchCandidate {
  enum class Kind { Order, Study, Patient } kind;
  std::string placer_order = {}, filler_order = {}, accession_number = {};  // an order
  std::string study_uid = {};                                               // a study
  PatientFacts patient = {};  // the candidate's patient (an order's, a study's, or the patient)
  int score = 0;
  std::vector<std::string> reasons = {};  // "+40 same Patient ID", "-20 different birth date"
};

struct WorkItem {
  enum class Kind { UnscheduledStudy, OverdueOrder, DemographicConflict } kind;
  std::optional<UnscheduledStudy> study = {};
  std::optional<OpenOrder> order = {};
  std::optional<IdentityConflict> conflict = {};
  std::int64_t overdue_minutes = 0;             // an overdue order's time past its scheduled start
  std::vector<MatchCandidate> candidates = {};  // best first
};
const char* to_string(MatchCandidate::Kind kind);
const char* to_string(WorkItem::Kind kind);

struct QueueOptions {
  std::int64_t now_ms = 0;
  int overdue_after_minutes = 60;  // an order without images this long after its start
  int birth_date_tolerance_days = 0;
  std::size_t max_candidates = 5;
};

std::vector<WorkItem> work_queue(const ReconciliationFacts& facts, const QueueOptions& options);

}  // namespace pacs
