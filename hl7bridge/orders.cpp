#include "hl7bridge/orders.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>

#include "hl7bridge/hl7_to_dicom.h"
#include "storage/dicom_attributes.h"
#include "storage/model/log.h"
#include "storage/model/uid.h"

namespace pacs::hl7 {
namespace {

constexpr std::size_t kMaxShortString = 16;  // DICOM SH: Accession Number, IDs

// The conversions of a segment that may be absent: an absent one gives empty values.
std::string person_name_from_xpn(const Segment* s, std::size_t field) {
  return s ? hl7::person_name_from_xpn(*s, field) : std::string();
}

std::string person_name_from_xcn(const Segment* s, std::size_t field) {
  return s ? hl7::person_name_from_xcn(*s, field) : std::string();
}

tl::unexpected<MessageProblem> problem(int code, std::string text, std::string segment = {},
                                       std::size_t sequence = 1, std::size_t field = 0,
                                       AckCode ack = AckCode::AE) {
  return tl::unexpected(
      MessageProblem{ack, AckError{code, std::move(text), std::move(segment), sequence, field}});
}

// One ORC and the segments after it up to the next ORC.
struct OrderGroup {
  const Segment* orc = nullptr;
  std::size_t orc_number = 0;  // 1-based occurrence, for error locations
  std::vector<const Segment*> obrs, ipcs;
  const Segment* tq1 = nullptr;
  const Segment* zds = nullptr;
};

std::vector<OrderGroup> order_groups(const Message& message) {
  std::vector<OrderGroup> groups;
  for (const Segment& s : message.segments()) {
    if (s.id() == "ORC") {
      groups.push_back({&s, groups.size() + 1, {}, {}, nullptr, nullptr});
      continue;
    }
    if (groups.empty()) continue;
    OrderGroup& g = groups.back();
    if (s.id() == "OBR")
      g.obrs.push_back(&s);
    else if (s.id() == "IPC")
      g.ipcs.push_back(&s);
    else if (s.id() == "TQ1" && !g.tq1)
      g.tq1 = &s;
    else if (s.id() == "ZDS" && !g.zds)
      g.zds = &s;
  }
  return groups;
}

void put(DcmItem& item, const DcmTagKey& tag, const std::string& value) {
  item.putAndInsertString(tag, value.c_str());
}

// A code sequence item (code value ^ meaning ^ scheme), or nothing when there is no code.
void put_code(DcmItem& item, const DcmTagKey& sequence, const std::string& code,
              const std::string& meaning, const std::string& scheme) {
  if (code.empty()) return;
  DcmItem* entry = nullptr;
  if (item.findOrCreateSequenceItem(sequence, entry, -2).bad() || !entry) return;
  put(*entry, DCM_CodeValue, code);
  put(*entry, DCM_CodingSchemeDesignator, scheme.empty() ? "L" : scheme);
  put(*entry, DCM_CodeMeaning, meaning);
}

struct StepSource {
  std::string sps_id, modality, station_aet, station_name, location, start;
  std::string description, protocol_code, protocol_meaning, protocol_scheme, performing_physician;
};

}  // namespace

tl::expected<std::vector<OrderChange>, MessageProblem> order_changes(const Message& message,
                                                                     const OrderOptions& options) {
  const bool omi = message.message_type() == "OMI";
  const Segment* pid = message.find("PID");
  const Segment* pv1 = message.find("PV1");
  const auto groups = order_groups(message);
  if (groups.empty()) return problem(100, "the message has no ORC segment", "ORC");

  std::vector<OrderChange> changes;
  for (const OrderGroup& g : groups) {
    const Segment* obr = g.obrs.empty() ? nullptr : g.obrs.front();
    OrderChange change;
    OrderRecord& order = change.order;
    order.placer_order = value_or_empty(g.orc, 2);
    if (order.placer_order.empty()) order.placer_order = value_or_empty(obr, 2);
    order.filler_order = value_or_empty(g.orc, 3);
    if (order.filler_order.empty()) order.filler_order = value_or_empty(obr, 3);
    if (order.placer_order.empty() && order.filler_order.empty())
      return problem(101, "the order has neither a placer (ORC-2) nor a filler (ORC-3) number",
                     "ORC", g.orc_number, 2);

    const std::string control = value_or_empty(g.orc, 1);
    const std::string status = value_or_empty(g.orc, 5);
    if (control == "CA" || control == "OC" || control == "CR" ||
        (control == "SC" && status == "CA")) {
      change.action = OrderAction::Cancel;
      changes.push_back(std::move(change));
      continue;
    }
    if (control == "DC" || control == "OD" || control == "SC") {
      change.action = OrderAction::SetStatus;
      change.status = control != "SC"  ? "DISCONTINUED"
                      : status == "IP" ? "STARTED"
                      : status == "CM" ? "COMPLETED"
                      : status == "DC" ? "DISCONTINUED"
                                       : "";
      if (!change.status.empty()) changes.push_back(std::move(change));
      continue;  // SC with another status: nothing changes on the worklist
    }
    if (control != "NW" && control != "XO")
      return problem(103, "order control code (ORC-1) '" + control + "' is not supported", "ORC",
                     g.orc_number, 1);

    // A new or changed order: its worklist item(s).
    if (omi ? g.ipcs.empty() : !obr)
      return problem(100, omi ? "the order has no IPC segment" : "the order has no OBR segment",
                     omi ? "IPC" : "OBR");
    const Segment* ipc = omi ? g.ipcs.front() : nullptr;
    order.accession_number = omi ? value_or_empty(ipc, 1) : value_or_empty(obr, 18);
    if (order.accession_number.empty())
      return omi ? problem(101, "Accession Number (IPC-1) missing", "IPC", 1, 1)
                 : problem(101, "Accession Number (OBR-18) missing", "OBR", 1, 18);
    if (order.accession_number.size() > kMaxShortString)
      return problem(102, "Accession Number longer than 16 characters", omi ? "IPC" : "OBR", 1,
                     omi ? 1 : 18);
    order.requested_procedure_id = omi ? value_or_empty(ipc, 2) : value_or_empty(obr, 19);
    if (order.requested_procedure_id.empty()) {
      // Type 1 in the worklist: the accession number stands in (one procedure per accession).
      order.requested_procedure_id = order.accession_number;
      PACS_LOG(Warn) << "HL7 order " << message.control_id()
                     << ": no Requested Procedure ID; the accession number stands in";
    }
    order.study_uid = omi ? value_or_empty(ipc, 3) : value_or_empty(g.zds, 1);
    if (order.study_uid.empty()) {
      char uid[100];
      order.study_uid = dcmGenerateUniqueIdentifier(uid, SITE_STUDY_UID_ROOT);
      order.study_uid_generated = true;
    }
    if (!Uid::parse(order.study_uid))
      return problem(102, "Study Instance UID is not a valid UID", omi ? "IPC" : "ZDS", 1,
                     omi ? 3 : 1);
    order.patient_id = value_or_empty(pid, 3);
    if (order.patient_id.empty()) return problem(101, "Patient ID (PID-3) missing", "PID", 1, 3);
    order.issuer_of_patient_id =
        issuer_or_default(value_or_empty(pid, 3, 4), message, options.default_issuers);
    order.patient_name = person_name_from_xpn(pid, 5);

    // The worklist item's attributes common to its steps (the order and the patient).
    DcmDataset common;
    put(common, DCM_PatientName, order.patient_name);
    put(common, DCM_PatientID, order.patient_id);
    put(common, DCM_IssuerOfPatientID, order.issuer_of_patient_id);
    order.patient_birth_date = dicom_date_and_time(value_or_empty(pid, 7)).first;
    order.patient_sex = dicom_sex(value_or_empty(pid, 8));
    put(common, DCM_PatientBirthDate, order.patient_birth_date);
    put(common, DCM_PatientSex, order.patient_sex);
    put(common, DCM_PatientMotherBirthName, person_name_from_xpn(pid, 6));
    put(common, DCM_ReferringPhysicianName, person_name_from_xcn(pv1, 8));
    put(common, DCM_AdmissionID, value_or_empty(pv1, 19));
    put(common, DCM_AccessionNumber, order.accession_number);
    put(common, DCM_RequestedProcedureID, order.requested_procedure_id);
    put(common, DCM_StudyInstanceUID, order.study_uid);
    put(common, DCM_PlacerOrderNumberImagingServiceRequest, order.placer_order);
    put(common, DCM_FillerOrderNumberImagingServiceRequest, order.filler_order);
    const std::string priority = g.tq1 ? value_or_empty(g.tq1, 9)
                                 : value_or_empty(g.orc, 7, 6).empty()
                                     ? value_or_empty(obr, 27, 6)
                                     : value_or_empty(g.orc, 7, 6);
    put(common, DCM_RequestedProcedurePriority, dicom_priority(priority));
    // Requested procedure: OBR-44 (IHE), else the ordered service OBR-4.
    const bool has_44 = !value_or_empty(obr, 44).empty();
    const std::size_t procedure_field = has_44 ? 44 : 4;
    put(common, DCM_RequestedProcedureDescription, value_or_empty(obr, procedure_field, 2));
    common.insertEmptyElement(DCM_RequestedProcedureCodeSequence);
    put_code(common, DCM_RequestedProcedureCodeSequence, value_or_empty(obr, procedure_field, 1),
             value_or_empty(obr, procedure_field, 2), value_or_empty(obr, procedure_field, 3));
    put(common, DCM_RequestingPhysician, person_name_from_xcn(obr, 16));
    put(common, DCM_MedicalAlerts, value_or_empty(obr, 13));
    put(common, DCM_PatientState, value_or_empty(obr, 12));
    put(common, DCM_PatientTransportArrangements, value_or_empty(obr, 30));
    put(common, DCM_ReasonForTheRequestedProcedure,
        value_or_empty(obr, 31, 2).empty() ? value_or_empty(obr, 31) : value_or_empty(obr, 31, 2));

    // The steps: one per IPC (OMI), or per distinct SPS ID among the OBRs (ORM).
    std::vector<StepSource> steps;
    const std::string start = g.tq1                                 ? value_or_empty(g.tq1, 7)
                              : value_or_empty(g.orc, 7, 4).empty() ? value_or_empty(obr, 27, 4)
                                                                    : value_or_empty(g.orc, 7, 4);
    if (omi) {
      for (const Segment* i : g.ipcs)
        steps.push_back(
            {value_or_empty(i, 4), value_or_empty(i, 5), value_or_empty(i, 9), value_or_empty(i, 7),
             value_or_empty(i, 8, 2).empty() ? value_or_empty(i, 8) : value_or_empty(i, 8, 2),
             start, value_or_empty(i, 6, 2), value_or_empty(i, 6, 1), value_or_empty(i, 6, 2),
             value_or_empty(i, 6, 3), person_name_from_xcn(obr, 34)});
    } else {
      for (const Segment* o : g.obrs) {
        StepSource step{value_or_empty(o, 20), value_or_empty(o, 24), "", "", "", start,
                        value_or_empty(o, 4, 5), value_or_empty(o, 4, 4), value_or_empty(o, 4, 5),
                        value_or_empty(o, 4, 6),
                        // OBR-34 technician: a name in the subcomponents of its first component
                        normalized_person_name(value_or_empty(o, 34, 1, 2) + "^" +
                                               value_or_empty(o, 34, 1, 3))};
        if (step.sps_id.empty()) step.sps_id = order.requested_procedure_id;
        const bool seen = std::any_of(steps.begin(), steps.end(),
                                      [&](const StepSource& s) { return s.sps_id == step.sps_id; });
        if (!seen) steps.push_back(std::move(step));
      }
    }
    const std::string procedure_description = value_or_empty(obr, procedure_field, 2);
    for (StepSource& s : steps) {
      if (s.sps_id.empty()) s.sps_id = order.requested_procedure_id;
      // Type 1C with the protocol codes: a modality shows it; the procedure's text stands in.
      if (s.description.empty()) s.description = procedure_description;
      if (s.station_aet.empty()) {
        const auto configured = options.station_aet_by_modality.find(s.modality);
        if (configured != options.station_aet_by_modality.end()) s.station_aet = configured->second;
      }
      const auto [date, time] = dicom_date_and_time(s.start);
      DcmDataset item(common);
      DcmItem* sps = nullptr;
      item.findOrCreateSequenceItem(DCM_ScheduledProcedureStepSequence, sps, 0);
      put(*sps, DCM_ScheduledStationAETitle, s.station_aet);
      put(*sps, DCM_ScheduledProcedureStepStartDate, date);
      put(*sps, DCM_ScheduledProcedureStepStartTime, time);
      put(*sps, DCM_Modality, s.modality);
      put(*sps, DCM_ScheduledPerformingPhysicianName, s.performing_physician);
      put(*sps, DCM_ScheduledProcedureStepDescription, s.description);
      sps->insertEmptyElement(DCM_ScheduledProtocolCodeSequence);
      put_code(*sps, DCM_ScheduledProtocolCodeSequence, s.protocol_code, s.protocol_meaning,
               s.protocol_scheme);
      put(*sps, DCM_ScheduledProcedureStepID, s.sps_id);
      put(*sps, DCM_ScheduledStationName, s.station_name);
      put(*sps, DCM_ScheduledProcedureStepLocation, s.location);
      put(*sps, DCM_ScheduledProcedureStepStatus, "SCHEDULED");
      order.steps.push_back(
          {s.sps_id, s.station_aet, s.modality, date, time, encode_attributes(item)});
    }
    changes.push_back(std::move(change));
  }
  return changes;
}

}  // namespace pacs::hl7
