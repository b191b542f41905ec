#include "security/audit_event.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace pacs::audit {
namespace {

Code dcm(std::string code, std::string meaning) {
  return {std::move(code), "DCM", std::move(meaning)};
}

// XML text and attribute values: the five predefined entities, and no control characters
// (XML 1.0 does not allow most of them).
std::string escaped(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t')
          out.push_back(c);
        else
          out.push_back(' ');
    }
  }
  return out;
}

std::string code_element(const char* element, const Code& code) {
  return std::string("<") + element + " csd-code=\"" + escaped(code.code) + "\" codeSystemName=\"" +
         escaped(code.system) + "\" originalText=\"" + escaped(code.meaning) + "\"/>";
}

}  // namespace

std::string utc_timestamp(std::chrono::system_clock::time_point when) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[80];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms.count() % 1000));
  return text;
}

namespace {

ParticipantObject patient(const std::string& patient_id) {
  ParticipantObject out;
  out.id = patient_id;
  out.type_code = 1;
  out.role = 1;
  out.id_type = {"2", "RFC-3881", "Patient Number"};
  return out;
}

ParticipantObject study(const StudyRef& ref) {
  ParticipantObject out;
  out.id = ref.study_uid;
  out.type_code = 2;
  out.role = 3;
  out.id_type = dcm("110180", "Study Instance UID");
  out.sop_classes = ref.sop_classes;
  return out;
}

}  // namespace

void TransferTally::add(const std::string& study_uid, const std::string& patient_id,
                        const std::string& sop_class_uid) {
  auto study = std::find_if(studies_.begin(), studies_.end(),
                            [&](const StudyRef& s) { return s.study_uid == study_uid; });
  if (study == studies_.end()) study = studies_.insert(studies_.end(), {study_uid, patient_id, {}});
  if (study->patient_id.empty()) study->patient_id = patient_id;
  auto& classes = study->sop_classes;
  auto known = std::find_if(classes.begin(), classes.end(),
                            [&](const auto& c) { return c.first == sop_class_uid; });
  if (known == classes.end())
    classes.emplace_back(sop_class_uid, 1);
  else
    ++known->second;
}

Code source_role() {
  return dcm("110153", "Source Role ID");
}

Code destination_role() {
  return dcm("110152", "Destination Role ID");
}

Participant node_participant(const std::string& aet, bool requestor, const Code& role) {
  return {std::to_string(::getpid()), "AETITLES=" + aet, requestor, "", role};
}

Participant remote(const std::string& user_id, const std::string& address, bool requestor,
                   const Code& role) {
  return {user_id, "", requestor, address, role};
}

std::string to_xml(const Event& event, const std::string& source_id,
                   std::chrono::system_clock::time_point when) {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage>";
  x += "<EventIdentification EventActionCode=\"" + std::string(1, event.action) +
       "\" EventDateTime=\"" + utc_timestamp(when) + "\" EventOutcomeIndicator=\"" +
       std::to_string(event.outcome) + "\">";
  x += code_element("EventID", event.id);
  for (const auto& type : event.types) x += code_element("EventTypeCode", type);
  if (!event.outcome_description.empty())
    x += "<EventOutcomeDescription>" + escaped(event.outcome_description) +
         "</EventOutcomeDescription>";
  x += "</EventIdentification>";
  for (const auto& p : event.participants) {
    x += "<ActiveParticipant UserID=\"" + escaped(p.user_id) + "\"";
    if (!p.alternative_id.empty()) x += " AlternativeUserID=\"" + escaped(p.alternative_id) + "\"";
    x += std::string(" UserIsRequestor=\"") + (p.requestor ? "true" : "false") + "\"";
    if (!p.network_address.empty())
      x += " NetworkAccessPointID=\"" + escaped(p.network_address) +
           "\" NetworkAccessPointTypeCode=\"2\"";
    x += ">";
    if (!p.role.code.empty()) x += code_element("RoleIDCode", p.role);
    x += "</ActiveParticipant>";
  }
  x += "<AuditSourceIdentification AuditSourceID=\"" + escaped(source_id) + "\">" +
       code_element("AuditSourceTypeCode", {"4", "DCM", "Application Server"}) +
       "</AuditSourceIdentification>";
  for (const auto& o : event.objects) {
    x += "<ParticipantObjectIdentification ParticipantObjectID=\"" + escaped(o.id) +
         "\" ParticipantObjectTypeCode=\"" + std::to_string(o.type_code) +
         "\" ParticipantObjectTypeCodeRole=\"" + std::to_string(o.role) + "\">";
    x += code_element("ParticipantObjectIDTypeCode", o.id_type);
    if (!o.name.empty())
      x += "<ParticipantObjectName>" + escaped(o.name) + "</ParticipantObjectName>";
    if (!o.query.empty()) x += "<ParticipantObjectQuery>" + o.query + "</ParticipantObjectQuery>";
    for (const auto& [uid, count] : o.sop_classes)
      x += "<SOPClass UID=\"" + escaped(uid) + "\" NumberOfInstances=\"" + std::to_string(count) +
           "\"/>";
    x += "</ParticipantObjectIdentification>";
  }
  return x + "</AuditMessage>";
}

Event application_activity(bool start, const std::string& aet) {
  Event e;
  e.id = dcm("110100", "Application Activity");
  e.types = {start ? dcm("110120", "Application Start") : dcm("110121", "Application Stop")};
  e.participants = {node_participant(aet, false, dcm("110150", "Application"))};
  return e;
}

namespace {

// The studies an event touched, then each of their patients once.
void add_studies(Event& e, const std::vector<StudyRef>& studies) {
  std::vector<std::string> patients;
  for (const auto& ref : studies) {
    e.objects.push_back(study(ref));
    if (!ref.patient_id.empty() &&
        std::find(patients.begin(), patients.end(), ref.patient_id) == patients.end())
      patients.push_back(ref.patient_id);
  }
  for (const auto& id : patients) e.objects.push_back(patient(id));
}

}  // namespace

Event instances_transferred(bool received, int outcome, const Participant& source,
                            const Participant& destination, const std::vector<StudyRef>& studies) {
  Event e;
  e.id = dcm("110104", "DICOM Instances Transferred");
  e.action = received ? 'C' : 'R';
  e.outcome = outcome;
  Participant from = source, to = destination;
  from.role = source_role();
  to.role = destination_role();
  e.participants = {from, to};
  add_studies(e, studies);
  return e;
}

Event instances_exported(int outcome, const Participant& source, const Participant& destination,
                         const std::vector<StudyRef>& studies, const std::string& method) {
  Event e = instances_transferred(false, outcome, source, destination, studies);
  e.id = dcm("110106", "Export");
  e.outcome_description = method;
  return e;
}

namespace {

// An event a requestor asked of the node about stored studies.
Event on_studies(Code id, char action, int outcome, const Participant& requestor,
                 const Participant& node, const std::vector<StudyRef>& studies) {
  Event e;
  e.id = std::move(id);
  e.action = action;
  e.outcome = outcome;
  Participant asking = requestor;
  asking.requestor = true;
  e.participants = {asking, node};
  add_studies(e, studies);
  return e;
}

}  // namespace

Event study_deleted(int outcome, const Participant& requestor, const Participant& node,
                    const std::vector<StudyRef>& studies) {
  return on_studies(dcm("110105", "DICOM Study Deleted"), 'D', outcome, requestor, node, studies);
}

Event instances_committed(int outcome, const Participant& requestor, const Participant& node,
                          const std::vector<StudyRef>& studies) {
  return on_studies(dcm("110103", "DICOM Instances Accessed"), 'R', outcome, requestor, node,
                    studies);
}

Event query(int outcome, const Participant& requestor, const Participant& node,
            const std::string& sop_class, const std::string& query_bytes) {
  Event e;
  e.id = dcm("110112", "Query");
  e.outcome = outcome;
  Participant asking = requestor, answering = node;
  asking.requestor = true;
  asking.role = source_role();
  answering.role = destination_role();
  e.participants = {asking, answering};
  ParticipantObject q;
  q.id = sop_class;
  q.type_code = 2;
  q.role = 24;  // Query
  q.id_type = dcm("110181", "SOP Class UID");
  q.query = query_bytes;
  e.objects = {q};
  return e;
}

Event user_authentication(bool success, const std::string& user, const std::string& address,
                          const std::string& why) {
  Event e;
  e.id = dcm("110114", "User Authentication");
  e.types = {dcm("110122", "Login")};
  e.outcome = success ? 0 : 4;
  e.outcome_description = why;
  e.participants = {remote(user.empty() ? "unknown" : user, address, true)};
  return e;
}

Event patient_record(char action, int outcome, const Participant& sender, const Participant& node,
                     const std::string& patient_id) {
  Event e;
  e.id = dcm("110110", "Patient Record");
  e.action = action;
  e.outcome = outcome;
  Participant from = sender;
  from.requestor = true;
  e.participants = {from, node};
  if (!patient_id.empty()) e.objects.push_back(patient(patient_id));
  return e;
}

Event order_record(char action, int outcome, const Participant& sender, const Participant& node,
                   const std::string& patient_id) {
  Event e = patient_record(action, outcome, sender, node, patient_id);
  e.id = dcm("110109", "Order Record");
  return e;
}

Event security_alert(const std::string& who, const std::string& address, const std::string& why,
                     const std::string& aet) {
  Event e;
  e.id = dcm("110113", "Security Alert");
  e.types = {dcm("110126", "Node Authentication")};
  e.outcome = 4;
  e.outcome_description = why;
  e.participants = {remote(who, address, true), node_participant(aet, false)};
  return e;
}

}  // namespace pacs::audit
