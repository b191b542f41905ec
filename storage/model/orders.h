// Orders from the RIS and the worklist items they schedule, and the HL7 messages that changed
// them: what the index keeps for the imaging workflow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pacs {

// One scheduled procedure step of an order, as Modality Worklist serves it.
struct WorklistItem {
  std::string sps_id;
  std::string station_aet;
  std::string modality;
  std::string start_date;  // DA
  std::string start_time;  // TM
  // The whole worklist item (patient, request and the Scheduled Procedure Step Sequence with
  // this step), encoded like the index's other attribute sets. The step's status is a column of
  // its own: it changes without the rest.
  std::string attributes;
};

// An order (a requested procedure) identified by its placer and filler order numbers.
struct OrderRecord {
  std::string placer_order, filler_order;
  std::string accession_number, requested_procedure_id, study_uid;
  std::string patient_id, issuer_of_patient_id, patient_name;
  std::vector<WorklistItem> steps;
  std::string patient_birth_date = {}, patient_sex = {};  // DICOM DA and CS
  // The study reconciliation linked to the order (the latest), which may carry another Study
  // Instance UID than the one the order scheduled; empty while none is linked. Read only.
  std::string linked_study_uid = {};
  // study_uid was generated because the message carried none (no ZDS-1 or IPC-3): an order that
  // exists already keeps the UID it was given the first time, so every worklist answer and the
  // study it becomes carry the same one.
  bool study_uid_generated = false;
};

// What the workflow does to the index beyond recording links.
struct WorkflowPolicy {
  // A study linked to its order takes the order's patient name, birth date and sex (the RIS is
  // the master of demographics); retrieved objects then carry them, with the acquired values in
  // Original Attributes Sequence.
  bool coerce_demographics_from_order = true;
};

enum class OrderAction {
  Schedule,  // create, or replace the order's details and steps (NW, XO)
  Cancel,    // the order's steps leave the worklist (CA, OC)
  SetStatus  // the order's steps get a status: STARTED, COMPLETED, DISCONTINUED
};

struct OrderChange {
  OrderAction action = OrderAction::Schedule;
  OrderRecord order;   // for Cancel and SetStatus only the order numbers count
  std::string status;  // for SetStatus
};

// Patient attributes as an update sets them: nullopt leaves a value as it is, "" clears it.
struct PatientValues {
  std::optional<std::string> patient_id, issuer_of_patient_id;
  std::optional<std::string> name, birth_date, sex;
};

// ADT: new demographics for a patient (A01, A04, A08), or a merge (A40) of a prior patient into
// a surviving one, which then gets the demographics.
struct PatientChange {
  std::string patient_id, issuer_of_patient_id;  // the patient (the surviving one of a merge)
  PatientValues demographics;                    // name, birth date, sex
  bool merge = false;
  std::string prior_patient_id, prior_issuer_of_patient_id;  // merge: MRG-1
};

// A stored study and the order it belongs to: linked when its first instance matched an order
// (by Study Instance UID, else by Accession Number) of the same patient, or by an operator;
// unreconciled otherwise, with the reason.
struct StudyLink {
  std::string study_uid;
  std::string state;                                         // linked, unreconciled
  std::string reason;                                        // why (how it was linked, or why not)
  std::string placer_order, filler_order, accession_number;  // the order, when linked
  std::string patient_id;                                    // the study's
  std::int64_t updated_ms = 0;
};

// A Modality Performed Procedure Step (N-CREATE, then N-SETs): its status, the scheduled step
// it performs (the keys that find the order), and its attributes as last set.
struct MppsRecord {
  std::string sop_instance_uid;
  std::string status;  // IN PROGRESS, COMPLETED, DISCONTINUED
  std::string study_uid, accession_number, sps_id;
  std::string attributes;  // encoded like the index's other attribute sets
};

// Something to tell the RIS/EHR destinations, waiting in the outbox (or sent, or refused).
struct OutboxItem {
  std::int64_t id = 0;
  std::string destination;
  std::string event;    // study-complete, procedure-status
  std::string subject;  // the Study Instance UID
  std::string detail;   // procedure-status: IN PROGRESS, COMPLETED, DISCONTINUED
  std::string state;    // pending, sent, failed
  std::int64_t attempts = 0, next_attempt_ms = 0;
  std::string last_error;
  std::string edited_message;  // an operator's edit, sent as it is; "" for the node's own
};

// What an outbound message says about a study: its patient, its order, its dates.
struct StudyFacts {
  std::string study_uid, accession_number, study_date, study_time, description;
  std::string patient_id, issuer_of_patient_id, patient_name;
  std::string placer_order, filler_order, requested_procedure_id;
};

// A report on a study (ORU^R01): its status (P preliminary, F final, C corrected), its text, who
// signed it, and the SR instance pacsnode stored in the study to carry it.
struct ReportRecord {
  std::string study_uid, accession_number;
  std::string placer_order, filler_order;        // the order it answers, when known
  std::string status, text, observer, observed;  // observed: DICOM DT of the report
  std::string sr_sop_uid;  // the SR (or Encapsulated PDF) instance that carries it
  std::int64_t updated_ms = 0;
  // A report sent as a PDF (OBX ED): its bytes, carried as Encapsulated PDF instead of an SR. Not
  // kept in the index: the instance holds it.
  std::string pdf = {};
  std::string observer_organization = {};  // the signer's institution (the sending facility)
};

// An HL7 message as processed: who sent it, its control ID, and the acknowledgement it got,
// replayed to a sender that sends the same message again.
struct MessageRecord {
  std::string sender;  // MSH-3 and MSH-4
  std::string control_id;
  std::string message_type;  // MSH-9, e.g. ORM^O01
  std::string ack_code;      // AA, AE, AR
  std::string ack;           // the acknowledgement message sent
  // The message as received: kept with a refusal (AE, AR), which makes the record a dead letter
  // an operator can read, edit and replay; not kept with an AA.
  std::string message = {};
  std::int64_t replaces = 0;  // a replay: the dead letter (its log id) this record takes over
};

// A processed message as the message log shows it: the record and when it arrived.
struct LoggedMessage {
  MessageRecord message;
  std::int64_t received_ms = 0;
  std::int64_t id = 0;
  std::string state = {};  // "dead": refused and kept for replay; "" otherwise
};

}  // namespace pacs
