#include "fhir/resources.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cctype>
#include <span>

namespace pacs::fhir {
namespace json = boost::json;
namespace {

constexpr const char* kDicomCodes = "http://dicom.nema.org/resources/ontology/DCM";
constexpr const char* kIdentifierTypes = "http://terminology.hl7.org/CodeSystem/v2-0203";

std::string text_of(const DcmDataset& attributes, const DcmTagKey& tag) {
  OFString value;
  const_cast<DcmDataset&>(attributes).findAndGetOFStringArray(tag, value);
  std::string out = value.c_str();
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// DICOM DA (YYYYMMDD) as a FHIR date; empty when it is not one. DICOM times carry no time zone
// unless Timezone Offset From UTC says so, and a FHIR dateTime with a time needs one: dates only.
std::string fhir_date(const std::string& da) {
  if (da.size() != 8 || !std::all_of(da.begin(), da.end(), ::isdigit)) return {};
  return da.substr(0, 4) + "-" + da.substr(4, 2) + "-" + da.substr(6, 2);
}

std::optional<std::int64_t> integer_of(const DcmDataset& attributes, const DcmTagKey& tag) {
  const std::string text = text_of(attributes, tag);
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const long long n = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str()) return std::nullopt;
  return n;
}

json::object coding(const std::string& system, const std::string& code) {
  return {{"system", system}, {"code", code}};
}

json::object reference(const std::string& type, const std::string& id) {
  return {{"reference", type + "/" + id}};
}

json::object typed_identifier(const char* code, const std::string& value) {
  return {{"type", {{"coding", json::array{coding(kIdentifierTypes, code)}}}}, {"value", value}};
}

// "Family^Given^Middle^Prefix^Suffix" (the first, alphabetic component group) as a HumanName.
json::object human_name(const std::string& pn) {
  const std::string alphabetic = pn.substr(0, pn.find('='));
  std::vector<std::string> parts;
  for (std::size_t from = 0; parts.size() < 5;) {
    const std::size_t caret = alphabetic.find('^', from);
    parts.push_back(alphabetic.substr(from, caret == std::string::npos ? caret : caret - from));
    if (caret == std::string::npos) break;
    from = caret + 1;
  }
  parts.resize(5);
  // Text as people write it: prefix, given, middle, family, suffix.
  std::string text;
  for (const std::size_t i : {3u, 1u, 2u, 0u, 4u})
    if (!parts[i].empty()) text += (text.empty() ? "" : " ") + parts[i];
  json::object name{{"text", text}};
  if (!parts[0].empty()) name["family"] = parts[0];
  json::array given;
  for (const std::size_t i : {1u, 2u})
    if (!parts[i].empty()) given.push_back(json::string(parts[i]));
  if (!given.empty()) name["given"] = std::move(given);
  if (!parts[3].empty()) name["prefix"] = json::array{json::string(parts[3])};
  if (!parts[4].empty()) name["suffix"] = json::array{json::string(parts[4])};
  return name;
}

std::string gender_of(const std::string& sex) {
  if (sex == "M") return "male";
  if (sex == "F") return "female";
  if (sex == "O") return "other";
  return "unknown";
}

std::string patient_reference_id(const PatientIdentity& patient) {
  return patient_resource_id(patient).value_or("unknown");
}

std::string patient_reference_id(const DcmDataset& attributes) {
  return patient_reference_id(patient_identity(attributes));
}

// FHIR identifier.system for an issuer: its OID as a URN when it is one (a Universal Entity ID),
// else none (the issuer is then only the assigner's display).
std::string issuer_system(const std::string& issuer) {
  const bool oid = !issuer.empty() && std::isdigit(static_cast<unsigned char>(issuer.front())) &&
                   std::all_of(issuer.begin(), issuer.end(),
                               [](unsigned char c) { return std::isdigit(c) || c == '.'; });
  return oid ? "urn:oid:" + issuer : "";
}

}  // namespace

std::optional<std::string> resource_id(const std::string& text) {
  const bool plain = !text.empty() && text.size() <= 64 && text.front() != 'x' &&
                     std::all_of(text.begin(), text.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '-' || c == '.';
                     });
  if (plain) return text;
  if (text.empty() || 1 + 2 * text.size() > 64) return std::nullopt;
  static const char* kHex = "0123456789abcdef";
  std::string id = "x";
  for (const unsigned char c : text) {
    id += kHex[c >> 4];
    id += kHex[c & 15];
  }
  return id;
}

std::optional<std::string> identifier_of(const std::string& id) {
  if (id.empty() || id.size() > 64) return std::nullopt;
  if (id.front() != 'x')
    return std::all_of(id.begin(), id.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.'; })
               ? std::optional(id)
               : std::nullopt;
  if (id.size() % 2 == 0) return std::nullopt;
  std::string text;
  for (std::size_t i = 1; i + 1 < id.size(); i += 2) {
    const auto nibble = [](char c) -> int {
      return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    const int high = nibble(id[i]), low = nibble(id[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    text += static_cast<char>(high * 16 + low);
  }
  return text;
}

constexpr char kIssuerSeparator = '\x1f';

std::optional<std::string> patient_resource_id(const PatientIdentity& patient) {
  if (patient.issuer.empty()) return resource_id(patient.id);
  if (patient.id.empty()) return std::nullopt;
  // Always the hex form: a plain id cannot carry the separator.
  return resource_id(patient.issuer + kIssuerSeparator + patient.id);
}

PatientIdentity patient_identity(const DcmDataset& attributes) {
  return {text_of(attributes, DCM_PatientID), text_of(attributes, DCM_IssuerOfPatientID)};
}

std::optional<PatientIdentity> patient_identity_of(const std::string& id) {
  const auto text = identifier_of(id);
  if (!text) return std::nullopt;
  const auto separator = text->find(kIssuerSeparator);
  if (separator == std::string::npos) return PatientIdentity{*text, ""};
  PatientIdentity patient{text->substr(separator + 1), text->substr(0, separator)};
  if (patient.id.empty() || patient.issuer.empty() ||
      patient.id.find(kIssuerSeparator) != std::string::npos)
    return std::nullopt;
  return patient;
}

std::optional<std::string> service_request_id(const OrderRecord& order) {
  const bool by_filler = !order.filler_order.empty();
  const auto id = resource_id(by_filler ? order.filler_order : order.placer_order);
  if (!id || id->size() > 62) return std::nullopt;
  return (by_filler ? "f-" : "p-") + *id;
}

std::optional<OrderNumbers> order_numbers_of(const std::string& id) {
  if (id.size() < 3 || id[1] != '-' || (id[0] != 'f' && id[0] != 'p')) return std::nullopt;
  const auto number = identifier_of(id.substr(2));
  if (!number) return std::nullopt;
  return id[0] == 'f' ? OrderNumbers{"", *number} : OrderNumbers{*number, ""};
}

json::object imaging_study(const StudyResources& s) {
  const DcmDataset& study = s.study;
  const std::string uid = text_of(study, DCM_StudyInstanceUID);
  json::object out{{"resourceType", "ImagingStudy"},
                   {"id", uid},
                   {"status", "available"},
                   {"subject", reference("Patient", patient_reference_id(study))}};
  json::array identifiers{{{"system", "urn:dicom:uid"}, {"value", "urn:oid:" + uid}}};
  if (const auto accession = text_of(study, DCM_AccessionNumber); !accession.empty())
    identifiers.push_back(typed_identifier("ACSN", accession));
  out["identifier"] = std::move(identifiers);
  json::array modalities;
  std::string all = text_of(study, DCM_ModalitiesInStudy);
  for (std::size_t from = 0; from < all.size();) {
    const std::size_t slash = all.find('\\', from);
    const std::string modality =
        all.substr(from, slash == std::string::npos ? std::string::npos : slash - from);
    if (!modality.empty()) modalities.push_back(coding(kDicomCodes, modality));
    if (slash == std::string::npos) break;
    from = slash + 1;
  }
  if (!modalities.empty()) out["modality"] = std::move(modalities);
  if (const auto started = fhir_date(text_of(study, DCM_StudyDate)); !started.empty())
    out["started"] = started;
  if (s.service_request)
    out["basedOn"] = json::array{reference("ServiceRequest", *s.service_request)};
  out["endpoint"] = json::array{reference("Endpoint", "dicomweb")};
  if (const auto description = text_of(study, DCM_StudyDescription); !description.empty())
    out["description"] = description;
  json::array series;
  std::int64_t instances_in_study = 0;
  for (const SeriesAttributes& attributes : s.series) {
    const DcmDataset& se = *attributes.series;
    json::object entry{
        {"uid", text_of(se, DCM_SeriesInstanceUID)},
        {"modality", coding(kDicomCodes,
                            text_of(se, DCM_Modality).empty() ? "OT" : text_of(se, DCM_Modality))}};
    if (auto number = integer_of(se, DCM_SeriesNumber); number && *number >= 0)
      entry["number"] = *number;
    if (const auto description = text_of(se, DCM_SeriesDescription); !description.empty())
      entry["description"] = description;
    entry["numberOfInstances"] = static_cast<std::int64_t>(attributes.instances.size());
    instances_in_study += static_cast<std::int64_t>(attributes.instances.size());
    json::array instances;
    for (const auto& instance : attributes.instances) {
      json::object i{{"uid", text_of(*instance, DCM_SOPInstanceUID)},
                     {"sopClass", coding("urn:ietf:rfc:3986",
                                         "urn:oid:" + text_of(*instance, DCM_SOPClassUID))}};
      if (auto number = integer_of(*instance, DCM_InstanceNumber); number && *number >= 0)
        i["number"] = *number;
      instances.push_back(std::move(i));
    }
    if (!instances.empty()) entry["instance"] = std::move(instances);
    series.push_back(std::move(entry));
  }
  out["numberOfSeries"] = static_cast<std::int64_t>(s.series.size());
  out["numberOfInstances"] = instances_in_study;
  if (!series.empty()) out["series"] = std::move(series);
  return out;
}

json::object patient(const DcmDataset& attributes) {
  json::object identifier{{"value", text_of(attributes, DCM_PatientID)}};
  if (const auto issuer = text_of(attributes, DCM_IssuerOfPatientID); !issuer.empty()) {
    if (const auto system = issuer_system(issuer); !system.empty()) identifier["system"] = system;
    identifier["assigner"] = json::object{{"display", issuer}};
  }
  json::object out{{"resourceType", "Patient"},
                   {"id", patient_reference_id(attributes)},
                   {"identifier", json::array{std::move(identifier)}}};
  if (const auto name = text_of(attributes, DCM_PatientName); !name.empty())
    out["name"] = json::array{human_name(name)};
  out["gender"] = gender_of(text_of(attributes, DCM_PatientSex));
  if (const auto birth = fhir_date(text_of(attributes, DCM_PatientBirthDate)); !birth.empty())
    out["birthDate"] = birth;
  return out;
}

json::object service_request(const OrderRecord& order, const std::string& status,
                             const std::optional<PatientIdentity>& subject) {
  json::array identifiers;
  if (!order.placer_order.empty())
    identifiers.push_back(typed_identifier("PLAC", order.placer_order));
  if (!order.filler_order.empty())
    identifiers.push_back(typed_identifier("FILL", order.filler_order));
  if (!order.accession_number.empty())
    identifiers.push_back(typed_identifier("ACSN", order.accession_number));
  json::object out{
      {"resourceType", "ServiceRequest"},
      {"id", service_request_id(order).value_or("unknown")},
      {"identifier", std::move(identifiers)},
      {"status", status},
      {"intent", "order"},
      {"subject", reference("Patient", patient_reference_id(subject.value_or(PatientIdentity{
                                           order.patient_id, order.issuer_of_patient_id})))}};
  if (!order.steps.empty()) {
    json::array codes;
    for (const WorklistItem& step : order.steps)
      if (!step.modality.empty()) codes.push_back(coding(kDicomCodes, step.modality));
    if (!codes.empty()) out["category"] = json::array{json::object{{"coding", std::move(codes)}}};
    if (const auto date = fhir_date(order.steps.front().start_date); !date.empty())
      out["occurrenceDateTime"] = date;
  }
  return out;
}

json::object diagnostic_report(const ReportRecord& report, const PatientIdentity& patient,
                               const std::optional<std::string>& service_request) {
  const std::string status = report.status == "F"   ? "final"
                             : report.status == "C" ? "corrected"
                             : report.status == "P" ? "preliminary"
                             : report.status == "X" ? "cancelled"
                                                    : "unknown";
  json::object out{
      {"resourceType", "DiagnosticReport"},
      {"id", report.study_uid},
      {"status", status},
      {"category", json::array{json::object{
                       {"coding", json::array{coding(
                                      "http://terminology.hl7.org/CodeSystem/v2-0074", "RAD")}}}}},
      {"code",
       {{"coding", json::array{json::object{{"system", "http://loinc.org"},
                                            {"code", "18748-4"},
                                            {"display", "Diagnostic imaging study"}}}}}},
      {"subject", reference("Patient", patient_reference_id(patient))},
      {"imagingStudy", json::array{reference("ImagingStudy", report.study_uid)}}};
  if (!report.accession_number.empty())
    out["identifier"] = json::array{typed_identifier("ACSN", report.accession_number)};
  if (service_request) out["basedOn"] = json::array{reference("ServiceRequest", *service_request)};
  if (const auto date = fhir_date(report.observed.substr(0, 8)); !date.empty())
    out["effectiveDateTime"] = date;
  if (!report.observer.empty())
    out["resultsInterpreter"] =
        json::array{json::object{{"display", human_name(report.observer)["text"]}}};
  if (!report.text.empty()) out["conclusion"] = report.text;
  return out;
}

json::object endpoint(const std::string& dicomweb_url) {
  return {
      {"resourceType", "Endpoint"},
      {"id", "dicomweb"},
      {"status", "active"},
      {"connectionType",
       coding("http://terminology.hl7.org/CodeSystem/endpoint-connection-type", "dicom-wado-rs")},
      {"name", "pacsnode DICOMweb (QIDO-RS, WADO-RS, STOW-RS)"},
      {"payloadType", json::array{json::object{{"text", "DICOM"}}}},
      {"payloadMimeType", json::array{"application/dicom", "application/dicom+json"}},
      {"address", dicomweb_url}};
}

json::object capability_statement(const std::string& base, const std::string& now_utc) {
  auto search = [](std::initializer_list<std::pair<const char*, const char*>> parameters) {
    json::array out;
    for (const auto& [name, type] : parameters) out.push_back({{"name", name}, {"type", type}});
    return out;
  };
  auto resource = [](const char* type, json::array parameters,
                     std::span<const IncludePath> includes = {}) {
    json::object r{{"type", type},
                   {"interaction", json::array{json::object{{"code", "read"}},
                                               json::object{{"code", "search-type"}}}}};
    json::array include_values;
    for (const IncludePath& include : includes) include_values.emplace_back(include.value);
    if (!include_values.empty()) r["searchInclude"] = std::move(include_values);
    if (!parameters.empty()) r["searchParam"] = std::move(parameters);
    return r;
  };
  json::array resources{resource("ImagingStudy",
                                 search({{"patient", "reference"},
                                         {"subject", "reference"},
                                         {"identifier", "token"},
                                         {"started", "date"},
                                         {"status", "token"},
                                         {"_count", "number"},
                                         {"_offset", "number"}}),
                                 kImagingStudyIncludes),
                        resource("Patient", search({{"identifier", "token"},
                                                    {"name", "string"},
                                                    {"_count", "number"},
                                                    {"_offset", "number"}})),
                        resource("ServiceRequest", search({{"identifier", "token"}})),
                        resource("DiagnosticReport",
                                 search({{"patient", "reference"},
                                         {"subject", "reference"},
                                         {"identifier", "token"},
                                         {"_count", "number"},
                                         {"_offset", "number"}}),
                                 kDiagnosticReportIncludes),
                        json::object{{"type", "Endpoint"},
                                     {"interaction", json::array{json::object{{"code", "read"}}}}}};
  return {
      {"resourceType", "CapabilityStatement"},
      {"status", "active"},
      {"date", now_utc},
      {"publisher", "pacsnode"},
      {"kind", "instance"},
      {"software", {{"name", "pacsnode"}}},
      {"implementation", {{"description", "pacsnode FHIR R4 read API"}, {"url", base}}},
      {"fhirVersion", "4.0.1"},
      {"format", json::array{"json"}},
      {"rest", json::array{json::object{{"mode", "server"}, {"resource", std::move(resources)}}}}};
}

json::object searchset(const std::string& base, std::vector<json::object> resources,
                       const SearchLinks& links, std::vector<json::object> included) {
  json::array entries;
  const std::size_t matches = resources.size();
  auto add = [&](json::object& resource, const char* mode) {
    const std::string url = base + "/" + std::string(resource["resourceType"].as_string()) + "/" +
                            std::string(resource["id"].as_string());
    entries.push_back(
        {{"fullUrl", url}, {"resource", std::move(resource)}, {"search", {{"mode", mode}}}});
  };
  for (json::object& resource : resources) add(resource, "match");
  for (json::object& resource : included) add(resource, "include");
  json::object out{{"resourceType", "Bundle"}, {"type", "searchset"}};
  // A page of a longer search leaves Bundle.total out: counting every match would cost what the
  // paging saves.
  if (links.holds_all) out["total"] = static_cast<std::int64_t>(matches);
  json::array link;
  if (!links.self.empty()) link.push_back({{"relation", "self"}, {"url", links.self}});
  if (!links.next.empty()) link.push_back({{"relation", "next"}, {"url", links.next}});
  if (!link.empty()) out["link"] = std::move(link);
  if (!entries.empty()) out["entry"] = std::move(entries);
  return out;
}

json::object operation_outcome(const std::string& code, const std::string& message) {
  return {{"resourceType", "OperationOutcome"},
          {"issue", json::array{json::object{
                        {"severity", "error"}, {"code", code}, {"diagnostics", message}}}}};
}

}  // namespace pacs::fhir
