#include "hl7bridge/hl7_to_dicom.h"

#include <vector>

#include "storage/dicom_attributes.h"

namespace pacs::hl7 {
namespace {

std::string component(const Segment& s, std::size_t field, std::size_t c) {
  return value_or_empty(&s, field, c);
}

std::string join_person_name(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "^" : "") + parts[i];
  return normalized_person_name(out);
}

}  // namespace

std::string value_or_empty(const Segment* segment, std::size_t field, std::size_t component,
                           std::size_t subcomponent) {
  if (!segment) return {};
  std::string v = segment->value(field, component, subcomponent);
  return v == "\"\"" ? std::string() : v;
}

std::string person_name_from_xpn(const Segment& s, std::size_t field) {
  return join_person_name({component(s, field, 1), component(s, field, 2), component(s, field, 3),
                           component(s, field, 5), component(s, field, 4)});
}

std::string person_name_from_xcn(const Segment& s, std::size_t field) {
  return join_person_name({component(s, field, 2), component(s, field, 3), component(s, field, 4),
                           component(s, field, 6), component(s, field, 5)});
}

std::string dicom_sex(const std::string& hl7) {
  if (hl7 == "M" || hl7 == "F" || hl7 == "O") return hl7;
  if (hl7 == "A" || hl7 == "N") return "O";
  return {};
}

std::string dicom_priority(const std::string& hl7) {
  if (hl7 == "S") return "STAT";
  if (hl7 == "A" || hl7 == "P" || hl7 == "C") return "HIGH";
  if (hl7 == "R") return "ROUTINE";
  if (hl7 == "T") return "MEDIUM";
  return {};
}

std::pair<std::string, std::string> dicom_date_and_time(const std::string& ts) {
  const std::string local = ts.substr(0, ts.find_first_of("+-"));
  const std::string date = local.substr(0, std::min<std::size_t>(8, local.size()));
  const std::string time = local.size() > 8 ? local.substr(8) : std::string();
  return {date.size() == 8 ? date : std::string(), time};
}

std::string dicom_date(const std::string& ts) {
  return dicom_date_and_time(ts).first;
}

}  // namespace pacs::hl7
