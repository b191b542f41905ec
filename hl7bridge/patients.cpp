#include "hl7bridge/patients.h"

#include "hl7bridge/hl7_to_dicom.h"

namespace pacs::hl7 {
namespace {

// An ADT field as an update: absent or empty leaves the value, "" (HL7's null) clears it.
std::optional<std::string> update_of(const Segment& pid, std::size_t field,
                                     std::string (*convert)(const Segment&, std::size_t)) {
  const std::string_view raw = pid.raw(field);
  if (raw.empty()) return std::nullopt;
  if (raw == "\"\"") return std::string();
  return convert(pid, field);
}

std::string birth_date(const Segment& pid, std::size_t field) {
  return dicom_date(pid.value(field));
}

std::string sex(const Segment& pid, std::size_t field) {
  return dicom_sex(pid.value(field));
}

}  // namespace

tl::expected<PatientChange, MessageProblem> patient_change(const Message& message,
                                                           const DefaultIssuers& default_issuers) {
  auto problem = [](int code, std::string text, std::string segment, std::size_t field) {
    return tl::unexpected(
        MessageProblem{AckCode::AE, AckError{code, std::move(text), std::move(segment), 1, field}});
  };
  const Segment* pid = message.find("PID");
  if (!pid) return problem(100, "the message has no PID segment", "PID", 0);
  PatientChange change;
  change.patient_id = pid->value(3);
  change.issuer_of_patient_id = issuer_or_default(pid->value(3, 4), message, default_issuers);
  if (change.patient_id.empty()) return problem(101, "Patient ID (PID-3) missing", "PID", 3);
  change.demographics.name = update_of(*pid, 5, &person_name_from_xpn);
  change.demographics.birth_date = update_of(*pid, 7, &birth_date);
  change.demographics.sex = update_of(*pid, 8, &sex);
  if (message.trigger_event() == "A40") {
    const Segment* mrg = message.find("MRG");
    if (!mrg) return problem(100, "A40 without an MRG segment", "MRG", 0);
    change.merge = true;
    change.prior_patient_id = mrg->value(1);
    change.prior_issuer_of_patient_id =
        issuer_or_default(mrg->value(1, 4), message, default_issuers);
    if (change.prior_patient_id.empty())
      return problem(101, "prior Patient ID (MRG-1) missing", "MRG", 1);
    if (change.prior_patient_id == change.patient_id &&
        change.prior_issuer_of_patient_id == change.issuer_of_patient_id)
      return problem(205, "a patient cannot be merged into itself", "MRG", 1);
  }
  return change;
}

}  // namespace pacs::hl7
