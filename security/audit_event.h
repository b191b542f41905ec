// DICOM audit messages (PS3.15 A.5, the IHE ATNA format): the event, who took part and what
// objects it touched, written as the AuditMessage XML. Builders make the events the node records;
// patients are named by ID only, and only where the message requires a patient.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace pacs::audit {

struct Code {
  std::string code, system, meaning;  // csd-code, codeSystemName, originalText
};

struct Participant {
  std::string user_id;          // an AE title, a user name, the node's process
  std::string alternative_id;   // e.g. AETITLES=PACSNODE for the node
  bool requestor = false;       // UserIsRequestor
  std::string network_address;  // an IP address (NetworkAccessPointTypeCode 2), or empty
  Code role;                    // e.g. 110153 Source Role ID
};

struct ParticipantObject {
  std::string id;
  int type_code = 2;                                     // 1 person, 2 system object
  int role = 3;                                          // 1 patient, 3 report, 24 query...
  Code id_type;                                          // e.g. 110180 Study Instance UID
  std::string query;                                     // base64 of the query, for Query events
  std::vector<std::pair<std::string, int>> sop_classes;  // SOP Class UID, NumberOfInstances
  std::string name;  // ParticipantObjectName (a patient's name is never put here)
};

struct Event {
  Code id;
  char action = 'E';  // C create, R read, U update, D delete, E execute
  int outcome = 0;    // 0 success, 4 minor failure, 8 serious failure, 12 major failure
  std::vector<Code> types;
  std::string outcome_description;
  std::vector<Participant> participants;
  std::vector<ParticipantObject> objects;
};

// 2026-12-03T01:40:00.123Z
std::string utc_timestamp(std::chrono::system_clock::time_point when);

// The AuditMessage XML of an event, from the audit source `source_id`, at `when`.
std::string to_xml(const Event& event, const std::string& source_id,
                   std::chrono::system_clock::time_point when);

// The node as a participant (its AE title and process).
Participant node_participant(const std::string& aet, bool requestor, const Code& role = {});
Participant remote(const std::string& user_id, const std::string& address, bool requestor,
                   const Code& role = {});

// Roles (DCM): the sending and receiving sides of a transfer, and an application.
Code source_role();
Code destination_role();

// A study touched by an event, with its SOP classes and counts.
struct StudyRef {
  std::string study_uid, patient_id;
  std::vector<std::pair<std::string, int>> sop_classes;
};

// The studies of a transfer, collected as instances go by.
class TransferTally {
 public:
  void add(const std::string& study_uid, const std::string& patient_id,
           const std::string& sop_class_uid);
  bool empty() const { return studies_.empty(); }
  const std::vector<StudyRef>& studies() const { return studies_; }
  void clear() { studies_.clear(); }

 private:
  std::vector<StudyRef> studies_;
};

// PS3.15 A.5.3: the events the node records.
Event application_activity(bool start, const std::string& aet);
// C-STORE/STOW received (action C) or instances sent by C-MOVE/C-GET/forwarding (action R).
Event instances_transferred(bool received, int outcome, const Participant& source,
                            const Participant& destination, const std::vector<StudyRef>& studies);
// Instances removed (deleted, rejected, past retention), PS3.15 A.5.3.5: the studies they were
// in, with the SOP classes and counts that went.
Event study_deleted(int outcome, const Participant& requestor, const Participant& node,
                    const std::vector<StudyRef>& studies);
Event query(int outcome, const Participant& requestor, const Participant& node,
            const std::string& sop_class, const std::string& query_bytes);
// A storage commitment request answered (PS3.4 J.3). PS3.15 A.5.3 has no event for it; the
// closest is DICOM Instances Accessed (110103) with action R: the node read every referenced
// instance to vouch for it, on the requester's behalf. Outcome 4 when some were not committed.
Event instances_committed(int outcome, const Participant& requestor, const Participant& node,
                          const std::vector<StudyRef>& studies);
// De-identified copies of instances that left the node (forwarded to a research AE, or retrieved
// over DICOMweb with anonymize=yes): PS3.15 A.5.3.6 Export (110106), action R. The studies are
// named as stored, so the trail tells whose data went out; `method` (the profile and options)
// goes into the outcome description.
Event instances_exported(int outcome, const Participant& source, const Participant& destination,
                         const std::vector<StudyRef>& studies, const std::string& method);
Event user_authentication(bool success, const std::string& user, const std::string& address,
                          const std::string& why);
Event order_record(char action, int outcome, const Participant& sender, const Participant& node,
                   const std::string& patient_id);
Event patient_record(char action, int outcome, const Participant& sender, const Participant& node,
                     const std::string& patient_id);
// Something refused for security reasons (an unknown AE, a bad certificate).
Event security_alert(const std::string& who, const std::string& address, const std::string& why,
                     const std::string& aet);

}  // namespace pacs::audit
