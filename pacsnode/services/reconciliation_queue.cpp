#include "pacsnode/services/reconciliation_queue.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "storage/model/demographics.h"
#include "storage/sql_workflow.h"

namespace pacs {
namespace {

// Points, with the reason an operator reads.
struct Scorer {
  int score = 0;
  std::vector<std::string> reasons;
  void add(int points, const std::string& why) {
    score += points;
    reasons.push_back((points > 0 ? "+" : "") + std::to_string(points) + " " + why);
  }
};

bool same_patient(const PatientFacts& a, const PatientFacts& b) {
  return !a.patient_id.empty() &&
         sql_workflow::same_patient_id(a.patient_id, a.issuer_of_patient_id, b.patient_id,
                                       b.issuer_of_patient_id);
}

void score_demographics(Scorer& s, const PatientFacts& a, const PatientFacts& b,
                        int tolerance_days) {
  switch (compare_names(a.name, b.name)) {
    case Agreement::Same:
      s.add(20, "same name");
      break;
    case Agreement::Similar:
      s.add(10, "same name with family and given swapped");
      break;
    case Agreement::Different:
      s.add(-20, "different name");
      break;
    case Agreement::Unknown:
      break;
  }
  switch (compare_birth_dates(a.birth_date, b.birth_date, tolerance_days)) {
    case Agreement::Same:
      s.add(20, "same birth date");
      break;
    case Agreement::Similar:
      s.add(10, "birth date within the tolerance or with day and month swapped");
      break;
    case Agreement::Different:
      s.add(-20, "different birth date");
      break;
    case Agreement::Unknown:
      break;
  }
}

// How well a study and an order fit each other.
Scorer score_pair(const UnscheduledStudy& study, const OpenOrder& order, int tolerance_days) {
  Scorer s;
  if (!study.accession_number.empty() && study.accession_number == order.accession_number)
    s.add(50, "same accession number");
  if (same_patient(study.patient, order.patient))
    s.add(40, "same Patient ID");
  else if (!study.patient.patient_id.empty() && !order.patient.patient_id.empty())
    s.add(-10, "other Patient ID");
  score_demographics(s, study.patient, order.patient, tolerance_days);
  if (!order.modality.empty()) {
    const std::string all = "\\" + study.modalities + "\\";
    if (all.find("\\" + order.modality + "\\") != std::string::npos)
      s.add(10, order.modality + " as scheduled");
  }
  const auto performed = day_of_date(study.study_date), scheduled = day_of_date(order.start_date);
  if (performed && scheduled) {
    const auto apart = std::abs((*performed - *scheduled).count());
    if (apart == 0)
      s.add(10, "performed on the scheduled day");
    else if (apart == 1)
      s.add(5, "performed a day from the scheduled one");
  }
  return s;
}

void keep_best(std::vector<MatchCandidate>& candidates, std::size_t max) {
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const MatchCandidate& a, const MatchCandidate& b) { return a.score > b.score; });
  if (candidates.size() > max) candidates.resize(max);
}

// The scheduled start (DA, TM in local time) in ms since the epoch; nullopt without a date.
std::optional<std::int64_t> start_ms(const OpenOrder& order) {
  if (!day_of_date(order.start_date)) return std::nullopt;
  std::tm t{};
  t.tm_year = std::atoi(order.start_date.substr(0, 4).c_str()) - 1900;
  t.tm_mon = std::atoi(order.start_date.substr(4, 2).c_str()) - 1;
  t.tm_mday = std::atoi(order.start_date.substr(6, 2).c_str());
  if (order.start_time.size() >= 4) {
    t.tm_hour = std::atoi(order.start_time.substr(0, 2).c_str());
    t.tm_min = std::atoi(order.start_time.substr(2, 2).c_str());
  }
  t.tm_isdst = -1;
  const std::time_t at = std::mktime(&t);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<std::int64_t>(at) * 1000;
}

}  // namespace

const char* to_string(MatchCandidate::Kind kind) {
  switch (kind) {
    case MatchCandidate::Kind::Order:
      return "order";
    case MatchCandidate::Kind::Study:
      return "study";
    case MatchCandidate::Kind::Patient:
      return "patient";
  }
  return "";
}

const char* to_string(WorkItem::Kind kind) {
  switch (kind) {
    case WorkItem::Kind::UnscheduledStudy:
      return "unscheduled-study";
    case WorkItem::Kind::OverdueOrder:
      return "overdue-order";
    case WorkItem::Kind::DemographicConflict:
      return "demographic-conflict";
  }
  return "";
}

std::vector<WorkItem> work_queue(const ReconciliationFacts& facts, const QueueOptions& options) {
  const int tolerance = options.birth_date_tolerance_days;
  std::vector<WorkItem> out;
  for (const UnscheduledStudy& study : facts.unscheduled) {
    WorkItem item{WorkItem::Kind::UnscheduledStudy};
    item.study = study;
    for (const OpenOrder& order : facts.open_orders) {
      Scorer s = score_pair(study, order, tolerance);
      if (s.score <= 0) continue;
      item.candidates.push_back({MatchCandidate::Kind::Order, order.placer_order,
                                 order.filler_order, order.accession_number, "", order.patient,
                                 s.score, std::move(s.reasons)});
    }
    keep_best(item.candidates, options.max_candidates);
    out.push_back(std::move(item));
  }
  const std::int64_t grace_ms = std::int64_t{options.overdue_after_minutes} * 60000;
  for (const OpenOrder& order : facts.open_orders) {
    const auto start = start_ms(order);
    if (!start || *start + grace_ms > options.now_ms) continue;
    WorkItem item{WorkItem::Kind::OverdueOrder};
    item.order = order;
    item.overdue_minutes = (options.now_ms - *start) / 60000;
    for (const UnscheduledStudy& study : facts.unscheduled) {
      Scorer s = score_pair(study, order, tolerance);
      if (s.score <= 0) continue;
      item.candidates.push_back({MatchCandidate::Kind::Study, "", "", study.accession_number,
                                 study.study_uid, study.patient, s.score, std::move(s.reasons)});
    }
    keep_best(item.candidates, options.max_candidates);
    out.push_back(std::move(item));
  }
  for (const IdentityConflict& conflict : facts.conflicts) {
    if (!demographics_conflict(conflict.known.name, conflict.known.birth_date,
                               conflict.arrived.name, conflict.arrived.birth_date, tolerance))
      continue;
    WorkItem item{WorkItem::Kind::DemographicConflict};
    item.conflict = conflict;
    // The recorded patient (one person with a typo?), and the patients the arrived name is.
    Scorer recorded;
    recorded.add(40, "same Patient ID");
    score_demographics(recorded, conflict.arrived, conflict.known, tolerance);
    item.candidates.push_back({MatchCandidate::Kind::Patient, "", "", "", "", conflict.known,
                               recorded.score, std::move(recorded.reasons)});
    for (const PatientFacts& namesake : conflict.namesakes) {
      Scorer s;
      score_demographics(s, conflict.arrived, namesake, tolerance);
      if (s.score <= 0) continue;
      item.candidates.push_back(
          {MatchCandidate::Kind::Patient, "", "", "", "", namesake, s.score, std::move(s.reasons)});
    }
    keep_best(item.candidates, options.max_candidates);
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace pacs
