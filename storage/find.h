// A query against the index in domain terms: conditions on indexed columns at one level. The
// services build it from a C-FIND identifier (or, later, QIDO parameters); the index compiles it
// to SQL. No DICOM tags and no SQL here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pacs {

// Worklist: the scheduled procedure steps of open orders (Modality Worklist, PS3.4 K), apart
// from the four levels of stored objects.
enum class Level { Patient, Study, Series, Instance, Worklist };

enum class Column {
  PatientId,
  IssuerOfPatientId,
  PatientName,
  PatientBirthDate,
  PatientSex,
  StudyUid,
  StudyDate,
  StudyTime,
  AccessionNumber,
  StudyId,
  ReferringPhysician,
  StudyDescription,
  ModalitiesInStudy,  // matches a study if any of its series has the modality
  SeriesUid,
  Modality,
  SeriesNumber,
  SeriesDescription,
  SopInstanceUid,
  SopClassUid,
  InstanceNumber,
  // Worklist keys (besides PatientId, PatientName, AccessionNumber, StudyUid above): the order's
  // Requested Procedure ID and its scheduled step's keys.
  RequestedProcedureId,
  ScheduledStationAet,
  ScheduledModality,
  ScheduledStartDate,
  ScheduledStartTime,
  ScheduledStepId,
  ScheduledStepStatus,
};

// The level a column belongs to.
Level level_of(Column column);

struct Condition {
  enum class Kind {
    Equals,    // values[0]
    AnyOf,     // any of values (list of UIDs; several values of a multi-valued key)
    Wildcard,  // values[0] with '*' (any run) and '?' (one character)
    Range,     // values[0] = low or "", values[1] = high or "" (inclusive; DA, TM, DT)
  };
  Column column;
  Kind kind;
  std::vector<std::string> values;
  // Person names: case-insensitive, and a query without '=' matches the first (alphabetic)
  // component group of a stored name that has several.
  bool person_name = false;
};

struct FindQuery {
  Level level = Level::Study;
  std::vector<Condition> conditions;  // all must hold
};

// One matching entity and what the levels down to it hold. A worklist match has its whole
// worklist item in patient_attributes.
struct FindRow {
  // Stored attributes (see records.h) of the patient, study, series and instance, as far down as
  // the query level; deeper ones are empty.
  std::string patient_attributes, study_attributes, series_attributes, instance_attributes;
  std::int64_t patient_studies = 0, patient_series = 0, patient_instances = 0;
  std::int64_t study_series = 0, study_instances = 0;
  std::string modalities_in_study, sop_classes_in_study;  // backslash-separated
  std::int64_t series_instances = 0;
  std::string study_uid, series_uid, sop_instance_uid, relative_path;
  std::string sop_class_uid, transfer_syntax;  // instance level
  std::string step_status;                     // worklist: the step's current status
  // An ADT update or merge changed the patient's values since objects arrived (see coercion.h).
  bool patient_changed = false;
};

}  // namespace pacs
