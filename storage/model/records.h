// The index's records: what pacsnode keeps per patient, study, series and instance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "storage/model/uid.h"

namespace pacs {

// Each level keeps the attributes that belong to it as a small DICOM dataset (Explicit VR Little
// Endian, bulk data left out), so that later queries can return any stored attribute without
// opening the instance file. The columns beside it are what matching runs on.
struct PatientRecord {
  std::string patient_id;
  std::string issuer_of_patient_id;
  std::string name;
  std::string birth_date;
  std::string sex;
  std::string attributes;
};

struct StudyRecord {
  Uid study_uid;
  std::string study_date;
  std::string study_time;
  std::string accession_number;
  std::string study_id;
  std::string referring_physician;
  std::string description;
  std::string attributes;
};

struct SeriesRecord {
  Uid series_uid;
  std::string modality;
  std::string series_number;
  std::string description;
  std::string attributes;
};

struct InstanceRecord {
  Uid sop_instance_uid;
  Uid sop_class_uid;
  std::string instance_number;
  std::string transfer_syntax;
  std::string relative_path;  // below the blob store's root
  std::uint64_t size_bytes = 0;
  std::string checksum;  // of the whole file, as storage/checksum.h formats it
  std::string attributes;
};

// Everything the index learns from one arriving instance.
struct IndexEntry {
  PatientRecord patient;
  StudyRecord study;
  SeriesRecord series;
  InstanceRecord instance;
};

// What the index already holds for one SOP Instance UID.
struct StoredInstance {
  std::string sop_instance_uid;
  std::string sop_class_uid;
  std::string study_uid;
  std::string series_uid;
  std::string transfer_syntax;
  std::string relative_path;
  std::uint64_t size_bytes = 0;
  std::string checksum;  // "" for rows indexed before checksums were recorded (schema < 12)
};

struct IndexCounts {
  std::int64_t patients = 0, studies = 0, series = 0, instances = 0;
};

// Per-study figures kept up to date at ingest (PS3.4 C.3.4 "number of related ..." keys).
struct StudySummary {
  std::string study_uid;
  std::string patient_id;
  std::int64_t series_count = 0;
  std::int64_t instance_count = 0;
  std::string modalities_in_study;   // backslash-separated, sorted
  std::string sop_classes_in_study;  // backslash-separated, sorted
};

}  // namespace pacs
