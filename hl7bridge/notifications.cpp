#include "hl7bridge/notifications.h"

#include "hl7bridge/message.h"

namespace pacs::hl7 {
namespace {

std::string replaced(std::string text, const std::string& key, const std::string& value) {
  // Bounded by the text: every pass moves past one replacement.
  for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
    text.replace(at, key.size(), value);
  return text;
}

// DICOM PN (family^given^middle^prefix^suffix) as XPN components (suffix before prefix).
std::string xpn_of(const std::string& pn, const Delimiters& d) {
  std::string parts[5];
  std::size_t i = 0, start = 0;
  const std::string first_group = pn.substr(0, pn.find('='));
  for (; i < 5; ++i) {
    const auto end = first_group.find('^', start);
    parts[i] =
        first_group.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  const std::string ordered[5] = {parts[0], parts[1], parts[2], parts[4], parts[3]};
  std::string out;
  for (std::size_t k = 0; k < 5; ++k) out += (k ? "^" : "") + escape(ordered[k], d);
  while (!out.empty() && out.back() == '^') out.pop_back();
  return out;
}

// MSH, PID, ORC and OBR of a message about the study's order; the caller adds what else it says.
Message with_order(const NotificationOptions& o, const StudyFacts& s, const std::string& type,
                   const std::string& version, const std::string& order_control,
                   const std::string& order_status, const std::string& result_status,
                   const std::string& control_id, const std::string& timestamp) {
  Message m;
  const Delimiters& d = m.delimiters();
  Segment& msh = m.add("MSH");
  msh.set(3, escape(o.application, d));
  msh.set(4, escape(o.facility, d));
  msh.set(7, timestamp);
  msh.set(9, type);
  msh.set(10, escape(control_id, d));
  msh.set(11, "P");
  msh.set(12, version);
  Segment& pid = m.add("PID");
  pid.set(1, "1");
  pid.set(3, escape(s.patient_id, d) + "^^^" + escape(s.issuer_of_patient_id, d));
  pid.set(5, xpn_of(s.patient_name, d));
  Segment& orc = m.add("ORC");
  orc.set(1, order_control);
  orc.set(2, escape(s.placer_order, d));
  orc.set(3, escape(s.filler_order, d));
  orc.set(5, order_status);
  Segment& obr = m.add("OBR");
  obr.set(1, "1");
  obr.set(2, escape(s.placer_order, d));
  obr.set(3, escape(s.filler_order, d));
  obr.set(4, "^" + escape(s.description, d));
  obr.set(7, s.study_date + s.study_time.substr(0, s.study_time.find('.')));
  obr.set(18, escape(s.accession_number, d));
  obr.set(19, escape(s.requested_procedure_id, d));
  if (!result_status.empty()) obr.set(25, result_status);
  return m;
}

}  // namespace

std::string study_url(const NotificationOptions& options, const StudyFacts& study) {
  return options.dicomweb_root + "/studies/" + study.study_uid;
}

std::string viewer_url(const NotificationOptions& options, const StudyFacts& study) {
  if (options.viewer_url.empty()) return {};
  return replaced(replaced(options.viewer_url, "{study}", study.study_uid), "{accession}",
                  study.accession_number);
}

std::string procedure_status_message(const NotificationOptions& options, const StudyFacts& study,
                                     const std::string& status, const std::string& control_id,
                                     const std::string& timestamp) {
  const std::string order_status = status == "IN PROGRESS"    ? "IP"
                                   : status == "COMPLETED"    ? "CM"
                                   : status == "DISCONTINUED" ? "DC"
                                                              : "";
  return with_order(options, study, "ORM^O01^ORM_O01", "2.3.1", "SC", order_status, "", control_id,
                    timestamp)
      .write();
}

std::string study_available_message(const NotificationOptions& options, const StudyFacts& study,
                                    const std::string& control_id, const std::string& timestamp) {
  if (options.study_complete_as_orm)
    return with_order(options, study, "ORM^O01^ORM_O01", "2.3.1", "SC", "CM", "", control_id,
                      timestamp)
        .write();
  // OBR-25 F: the images are final and available.
  Message m =
      with_order(options, study, "ORU^R01^ORU_R01", "2.5.1", "RE", "", "F", control_id, timestamp);
  const Delimiters& d = m.delimiters();
  std::size_t set_id = 0;
  auto obx = [&](const std::string& type, const std::string& code, const std::string& value) {
    Segment& s = m.add("OBX");
    s.set(1, std::to_string(++set_id));
    s.set(2, type);
    s.set(3, code);
    s.set(5, value);
    s.set(11, "F");
  };
  obx("ST", "113014^DICOM Study^DCM", escape(study.study_uid, d));
  // RP: a reference pointer (pointer ^ application ^ type ^ subtype).
  obx("RP", "WADORS^WADO-RS study^99PACSNODE",
      escape(study_url(options, study), d) + "^PACSNODE^multipart^related");
  if (const std::string viewer = viewer_url(options, study); !viewer.empty())
    obx("RP", "VIEWER^Viewer^99PACSNODE", escape(viewer, d) + "^PACSNODE^text^html");
  return m.write();
}

}  // namespace pacs::hl7
