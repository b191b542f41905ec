// Objects leaving the archive: what an operator, a rejection note or a retention rule names, what
// went, and the files still to be removed. Index rows go at once, in one transaction; the files
// are listed in the purge queue in that same transaction and removed after it (at once, or when a
// rejection's grace period ends), so a crash at any point leaves either everything in place or
// rows gone and files queued, never rows that point at missing files.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pacs {

enum class RemovalLevel { Patient, Study, Series, Instance };

// One entity of the model, by the keys that name it at its level. A series or instance may name
// its study as well (an instance its series too); then they must agree.
struct RemovalTarget {
  RemovalLevel level = RemovalLevel::Study;
  std::string patient_id = {}, issuer_of_patient_id = {};  // Patient
  std::string study_uid = {};         // Study (and optionally Series, Instance)
  std::string series_uid = {};        // Series (and optionally Instance)
  std::string sop_instance_uid = {};  // Instance
};

// Why, by whom, and when the files may go: `purge_after_ms` 0 for at once, later for a
// rejection's grace period.
struct RemovalOrder {
  std::string reason = {};  // "deleted", "rejected: Rejected for Quality Reasons", "retention: ..."
  std::string actor = {};   // "admin (HTTP API)", "pacsnode delete", the sender of a rejection note
  std::int64_t purge_after_ms = 0;
};

// A study that lost instances, for the audit record (PS3.15 A.5.3.x names studies, not files).
struct RemovedStudy {
  std::string study_uid, patient_id;
  std::map<std::string, int> sop_classes;  // SOP Class UID -> instances removed
  bool whole = false;                      // the study itself went
};

struct RemovedObjects {
  std::int64_t patients = 0, studies = 0, series = 0, instances = 0;  // rows that went
  std::vector<RemovedStudy> by_study;
};

// A file whose rows went; removed once purge_after_ms has passed.
struct PendingPurge {
  std::int64_t id = 0;
  std::string relative_path, sop_instance_uid;
  std::int64_t purge_after_ms = 0;
};

// A stored study as retention weighs it, oldest Study Date first.
struct AgedStudy {
  std::string study_uid = {}, patient_id = {};
  std::string study_date = {};   // YYYYMMDD; "" when the objects carry none
  std::string modalities = {};   // backslash-separated, as ModalitiesInStudy
  std::int64_t received_ms = 0;  // when its latest instance arrived (0: unknown)
  std::int64_t instances = 0;
  std::uint64_t bytes = 0;  // of its files
  bool unsent = false;      // forwarding of one of its instances is pending or failed
};

}  // namespace pacs
