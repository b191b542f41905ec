// What the reconciliation work queue is made of, as the index knows it: studies without an order,
// orders still waiting for their images, and identity conflicts (one Patient ID, demographics
// that cannot both be right). The ranking of candidates is pacsnode/services/reconciliation_queue.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pacs {

// A patient as a candidate or a party to a conflict.
struct PatientFacts {
  std::string patient_id, issuer_of_patient_id, name, birth_date, sex;
};

// A stored study on the unreconciled list.
struct UnscheduledStudy {
  std::string study_uid, accession_number, study_date, study_time, modalities;
  PatientFacts patient;
  std::string reason;  // why it was not linked
  std::int64_t since_ms = 0;
};

// An order no study is linked to yet, with its first scheduled step.
struct OpenOrder {
  std::string placer_order, filler_order, accession_number, status;
  PatientFacts patient;
  std::string modality, start_date, start_time;  // DA, TM of the first step
};

// A study (or an order) that named a known patient with demographics that disagree.
struct IdentityConflict {
  std::int64_t id = 0;
  PatientFacts known;     // the index's patient
  PatientFacts arrived;   // what the study or order said (same Patient ID and issuer)
  std::string study_uid;  // the study that brought it, or ""
  std::string placer_order, filler_order;  // the order that brought it, or ""
  std::int64_t detected_ms = 0;
  std::vector<PatientFacts> namesakes;  // other patients with the arrived name
};

struct ReconciliationFacts {
  std::vector<UnscheduledStudy> unscheduled;
  std::vector<OpenOrder> open_orders;
  std::vector<IdentityConflict> conflicts;
};

}  // namespace pacs
