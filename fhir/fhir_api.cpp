#include "fhir/fhir_api.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>

#include "dicomweb/handlers.h"
#include "dicomweb/url.h"
#include "fhir/resources.h"

namespace pacs::fhir {
namespace json = boost::json;
namespace http = web::http;
namespace {

using Datasets = std::vector<std::unique_ptr<DcmDataset>>;
using Answer = FhirApi::Answer;
constexpr std::size_t kDefaultCount = 100, kMaxCount = 1000, kMaxOffset = 1000000;

Answer outcome(http::status status, const char* code, const std::string& message) {
  return {status, json::serialize(operation_outcome(code, message))};
}

Answer ok(const json::object& resource) {
  return {http::status::ok, json::serialize(resource)};
}

std::string now_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// The value of a token parameter ("system|value" or "value") and its system.
std::pair<std::string, std::string> token_of(const std::string& parameter) {
  const auto bar = parameter.find('|');
  if (bar == std::string::npos) return {"", parameter};
  return {parameter.substr(0, bar), parameter.substr(bar + 1)};
}

// A reference parameter ("Patient/ID" or "ID") as the patient it names.
std::optional<PatientIdentity> referenced_patient(const std::string& parameter) {
  constexpr std::string_view kType = "Patient/";
  return patient_identity_of(parameter.starts_with(kType) ? parameter.substr(kType.size())
                                                          : parameter);
}

// The Issuer of Patient ID an identifier token's system names: the OID of a urn:oid: system,
// else the system as it is (the issuer's text); nullopt for a token without one.
std::optional<std::string> issuer_of_system(const std::string& system) {
  if (system.empty()) return std::nullopt;
  constexpr std::string_view kOid = "urn:oid:";
  return system.starts_with(kOid) ? system.substr(kOid.size()) : system;
}

// YYYY-MM-DD as DICOM DA, moved by `days`; nullopt when it is not such a date.
std::optional<std::string> dicom_date(const std::string& date, int days = 0) {
  int y = 0, m = 0, d = 0;
  if (date.size() != 10 || std::sscanf(date.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3)
    return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m),
                                        std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  const std::chrono::year_month_day moved{std::chrono::sys_days(ymd) + std::chrono::days(days)};
  char text[16];
  std::snprintf(text, sizeof text, "%04d%02u%02u", static_cast<int>(moved.year()),
                static_cast<unsigned>(moved.month()), static_cast<unsigned>(moved.day()));
  return text;
}

// A "started" parameter (a date with an optional eq/ge/gt/le/lt prefix) narrowing [from, to].
bool narrow_dates(const std::string& parameter, std::string& from, std::string& to) {
  std::string prefix = "eq", date = parameter;
  if (parameter.size() > 2 && std::isalpha(static_cast<unsigned char>(parameter[0]))) {
    prefix = parameter.substr(0, 2);
    date = parameter.substr(2);
  }
  const int shift = prefix == "gt" ? 1 : prefix == "lt" ? -1 : 0;
  const auto da = dicom_date(date, shift);
  if (!da) return false;
  if (prefix == "eq") {
    from = to = *da;
  } else if (prefix == "ge" || prefix == "gt") {
    if (from.empty() || *da > from) from = *da;
  } else if (prefix == "le" || prefix == "lt") {
    if (to.empty() || *da < to) to = *da;
  } else {
    return false;
  }
  return true;
}

// In the order of their Series or Instance Number (the index answers in its own order).
void by_number(Datasets& matches, const DcmTagKey& tag) {
  auto number = [&tag](const std::unique_ptr<DcmDataset>& match) {
    Sint32 n = 0;
    return match->findAndGetSint32(tag, n).good() ? n : 0;
  };
  std::stable_sort(matches.begin(), matches.end(),
                   [&](const auto& a, const auto& b) { return number(a) < number(b); });
}

// The study-level keys an ImagingStudy and its Patient need; empty ones are return keys.
void add_study_keys(DcmDataset& keys) {
  keys.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  for (const DcmTagKey& tag :
       {DCM_StudyInstanceUID, DCM_StudyDate, DCM_AccessionNumber, DCM_StudyDescription,
        DCM_PatientID, DCM_IssuerOfPatientID, DCM_PatientName, DCM_PatientBirthDate, DCM_PatientSex,
        DCM_ModalitiesInStudy})
    if (!keys.tagExists(tag)) keys.putAndInsertString(tag, "");
}

}  // namespace

// One request, answered from the index (on the HTTP face's worker pool: it blocks).
class Request {
 public:
  Request(const QueryService& query, Index& index, std::string base, std::string dicomweb_url)
      : query_(query),
        index_(index),
        base_(std::move(base)),
        dicomweb_url_(std::move(dicomweb_url)) {}

  Answer answer(const web::Target& target) {
    const auto& s = target.segments;  // "fhir" first
    parameters_ = &target.query;
    if (s.size() == 2 && s[1] == "metadata") return ok(capability_statement(base_, now_utc()));
    if (s.size() < 2 || s.size() > 3)
      return outcome(http::status::not_found, "not-found", "no such FHIR resource");
    const std::string& type = s[1];
    type_ = type;
    const std::optional<std::string> id = s.size() == 3 ? std::optional(s[2]) : std::nullopt;
    if (type == "ImagingStudy") return id ? read_study(*id) : search_studies();
    if (type == "Patient") return id ? read_patient(*id) : search_patients();
    if (type == "ServiceRequest") return id ? read_order(*id) : search_orders();
    if (type == "DiagnosticReport") return id ? read_report(*id) : search_reports();
    if (type == "Endpoint") {
      if (!id) return ok(searchset(base_, {endpoint(dicomweb_url_)}, links({}, false)));
      if (*id == "dicomweb") return ok(endpoint(dicomweb_url_));
      return outcome(http::status::not_found, "not-found", "no such Endpoint");
    }
    return outcome(http::status::not_found, "not-supported",
                   "resource type " + type + " is not served here");
  }

 private:
  std::string parameter(const char* name) const {
    for (const auto& [key, value] : *parameters_)
      if (key == name) return value;
    return {};
  }

  // The page a search asks for: _count matches (1 to 1000, 100 when absent) after the first
  // _offset. nullopt, and the answer in `refused`, when either is not such a number.
  struct Page {
    std::size_t offset = 0, count = kDefaultCount;
  };
  std::optional<Page> requested_page(std::optional<Answer>& refused) const {
    Page page;
    for (auto [name, value, field, least, most] :
         {std::tuple{"_count", "1 to 1000", &page.count, std::size_t{1}, kMaxCount},
          std::tuple{"_offset", "0 to 1000000", &page.offset, std::size_t{0}, kMaxOffset}}) {
      const std::string text = parameter(name);
      if (text.empty()) continue;
      const auto number = web::number_in(text, least, most);
      if (!number) {
        refused = outcome(http::status::bad_request, "invalid",
                          std::string(name) + " is a number from " + value);
        return std::nullopt;
      }
      *field = *number;
    }
    return page;
  }

  // The links of a searchset: this request's URL, and the next page's when `more` matches follow
  // the page (the same parameters with _offset moved on).
  SearchLinks links(const Page& page, bool more) const {
    SearchLinks out;
    const std::string search = base_ + "/" + type_;
    const std::string query = web::query_string(*parameters_);
    out.self = query.empty() ? search : search + "?" + query;
    out.holds_all = page.offset == 0 && !more;
    if (more) {
      std::vector<std::pair<std::string, std::string>> next;
      for (const auto& parameter : *parameters_)
        if (parameter.first != "_offset") next.push_back(parameter);
      next.emplace_back("_offset", std::to_string(page.offset + page.count));
      out.next = search + "?" + web::query_string(next);
    }
    return out;
  }

  // One page of a search's matches, and whether more follow it.
  struct Matches {
    Datasets page;
    bool more = false;
  };
  Result<Matches> find_page(QueryModel model, DcmDataset& keys, const Page& page,
                            const std::optional<std::string>& issuer) const {
    auto found = find(model, keys, page.count + 1, issuer, page.offset);
    if (!found) return tl::unexpected(found.error());
    Matches out{std::move(*found)};
    if (out.page.size() > page.count) {
      out.page.pop_back();
      out.more = true;
    }
    return out;
  }

  // Matches of the keys after the first `skip`, up to `limit`; with `issuer`, only those of a
  // patient with exactly that Issuer of Patient ID (an empty one too, which a C-FIND key cannot
  // ask for: it is universal).
  Result<Datasets> find(QueryModel model, DcmDataset& keys, std::size_t limit,
                        const std::optional<std::string>& issuer = std::nullopt,
                        std::size_t skip = 0) const {
    if (issuer && (!issuer->empty() || !keys.tagExists(DCM_IssuerOfPatientID)))
      keys.putAndInsertString(DCM_IssuerOfPatientID, issuer->c_str());
    auto parsed = query_.parse(keys, model);
    if (!parsed) return tl::unexpected(parsed.error());
    Datasets out;
    auto summary = query_.find(*parsed, [&](DcmDataset& match) {
      OFString found_issuer;
      match.findAndGetOFString(DCM_IssuerOfPatientID, found_issuer);
      if (issuer && *issuer != found_issuer.c_str()) return true;
      if (skip > 0) {
        --skip;
        return true;
      }
      out.push_back(std::make_unique<DcmDataset>(match));
      return out.size() < limit;
    });
    if (!summary) return tl::unexpected(summary.error());
    return out;
  }

  std::optional<std::string> order_of_study(const std::string& study_uid) const {
    auto facts = index_.study_facts(study_uid);
    if (!facts || !*facts || ((*facts)->placer_order.empty() && (*facts)->filler_order.empty()))
      return std::nullopt;
    OrderRecord order;
    order.placer_order = (*facts)->placer_order;
    order.filler_order = (*facts)->filler_order;
    return service_request_id(order);
  }

  // The ImagingStudy of a study-level match: its series and their instances queried.
  Result<json::object> study_resource(const DcmDataset& study) const {
    OFString uid;
    const_cast<DcmDataset&>(study).findAndGetOFString(DCM_StudyInstanceUID, uid);
    DcmDataset series_keys;
    series_keys.putAndInsertString(DCM_QueryRetrieveLevel, "SERIES");
    series_keys.putAndInsertString(DCM_StudyInstanceUID, uid.c_str());
    for (const DcmTagKey& tag :
         {DCM_SeriesInstanceUID, DCM_Modality, DCM_SeriesNumber, DCM_SeriesDescription})
      series_keys.putAndInsertString(tag, "");
    auto series = find(QueryModel::StudyRoot, series_keys, kMaxCount);
    if (!series) return tl::unexpected(series.error());
    by_number(*series, DCM_SeriesNumber);
    std::vector<SeriesAttributes> all;
    for (auto& one : *series) {
      OFString series_uid;
      one->findAndGetOFString(DCM_SeriesInstanceUID, series_uid);
      DcmDataset instance_keys;
      instance_keys.putAndInsertString(DCM_QueryRetrieveLevel, "IMAGE");
      instance_keys.putAndInsertString(DCM_StudyInstanceUID, uid.c_str());
      instance_keys.putAndInsertString(DCM_SeriesInstanceUID, series_uid.c_str());
      for (const DcmTagKey& tag : {DCM_SOPInstanceUID, DCM_SOPClassUID, DCM_InstanceNumber})
        instance_keys.putAndInsertString(tag, "");
      auto instances = find(QueryModel::StudyRoot, instance_keys, 100000);
      if (!instances) return tl::unexpected(instances.error());
      by_number(*instances, DCM_InstanceNumber);
      all.push_back({std::move(one), std::move(*instances)});
    }
    return imaging_study({study, all, order_of_study(uid.c_str())});
  }

  Answer failure(const Error& error) const {
    return outcome(error.code == ErrorCode::InvalidObject || error.code == ErrorCode::Malformed
                       ? http::status::bad_request
                       : http::status::service_unavailable,
                   error.code == ErrorCode::InvalidObject ? "invalid" : "exception", error.message);
  }

  // A page of the study-level matches of a search's keys.
  Result<Matches> studies(DcmDataset& keys, const std::optional<std::string>& patient_issuer,
                          const Page& page) const {
    add_study_keys(keys);
    return find_page(QueryModel::StudyRoot, keys, page, patient_issuer);
  }

  // The keys of an ImagingStudy or DiagnosticReport search, and the issuer of the patient it
  // names; false and the answer in `refused` when the request is bad.
  bool study_search_keys(DcmDataset& keys, std::optional<std::string>& patient_issuer,
                         std::optional<Answer>& refused) const {
    for (const char* name : {"patient", "subject"}) {
      const std::string value = parameter(name);
      if (value.empty()) continue;
      const auto patient = referenced_patient(value);
      if (!patient) {
        refused =
            outcome(http::status::bad_request, "invalid", std::string(name) + ": not a Patient id");
        return false;
      }
      keys.putAndInsertString(DCM_PatientID, patient->id.c_str());
      patient_issuer = patient->issuer;
    }
    if (const auto identifier = parameter("identifier"); !identifier.empty()) {
      const auto [system, value] = token_of(identifier);
      if (system == "urn:dicom:uid" || value.starts_with("urn:oid:"))
        keys.putAndInsertString(DCM_StudyInstanceUID,
                                value.substr(value.starts_with("urn:oid:") ? 8 : 0).c_str());
      else
        keys.putAndInsertString(DCM_AccessionNumber, value.c_str());
    }
    std::string from, to;
    for (const auto& [key, value] : *parameters_) {
      if (key != "started") continue;
      if (!narrow_dates(value, from, to)) {
        refused = outcome(http::status::bad_request, "invalid",
                          "started: a date (YYYY-MM-DD) with an optional eq, ge, gt, le or lt");
        return false;
      }
    }
    if (!from.empty() || !to.empty())
      keys.putAndInsertString(DCM_StudyDate, from == to ? from.c_str() : (from + "-" + to).c_str());
    return true;
  }

  // The study-level match of one Study Instance UID; nullptr when there is none.
  Result<std::unique_ptr<DcmDataset>> study_by_uid(const std::string& uid) const {
    DcmDataset keys;
    keys.putAndInsertString(DCM_StudyInstanceUID, uid.c_str());
    add_study_keys(keys);
    auto found = find(QueryModel::StudyRoot, keys, 1);
    if (!found) return tl::unexpected(found.error());
    if (found->empty()) return std::unique_ptr<DcmDataset>{};
    return std::move(found->front());
  }

  Answer read_study(const std::string& id) const {
    auto study = study_by_uid(id);
    if (!study) return failure(study.error());
    if (!*study) return outcome(http::status::not_found, "not-found", "no such ImagingStudy");
    auto resource = study_resource(**study);
    return resource ? ok(*resource) : failure(resource.error());
  }

  // The resource a reference ("Type/id") names, if this server holds it.
  Result<std::optional<json::object>> referenced(std::string_view reference) const {
    const auto slash = reference.find('/');
    if (slash == std::string_view::npos) return std::optional<json::object>{};
    const std::string type(reference.substr(0, slash)), id(reference.substr(slash + 1));
    if (type == "Patient") return patient_by_id(id);
    if (type == "ServiceRequest") return order_by_id(id);
    if (type == "Endpoint" && id == "dicomweb") return std::optional(endpoint(dicomweb_url_));
    return std::optional<json::object>{};
  }

  // The resources a search's _include parameters ask for ("ImagingStudy:subject", ...), from the
  // references of its matches, each once; `includes` maps each _include value this resource type
  // serves to the element of the match holding the reference(s). Other values are ignored, as
  // unknown parameters are.
  Result<std::vector<json::object>> included(const std::vector<json::object>& matches,
                                             std::span<const IncludePath> includes) const {
    std::vector<json::object> out;
    std::set<std::string> seen;
    for (const auto& query : *parameters_) {
      if (query.first != "_include") continue;
      const std::string& value = query.second;  // not a structured binding: a lambda uses it
      const auto element = std::find_if(includes.begin(), includes.end(),
                                        [&](const IncludePath& one) { return one.value == value; });
      if (element == includes.end()) continue;
      for (const json::object& match : matches) {
        const json::value* held = match.if_contains(element->element);
        if (held == nullptr) continue;
        // One reference (subject) or an array of them (basedOn, endpoint), not copied.
        const std::span<const json::value> references =
            held->is_array() ? std::span(held->as_array().data(), held->as_array().size())
                             : std::span(held, 1);
        for (const json::value& one : references) {
          const json::value* reference =
              one.is_object() ? one.as_object().if_contains("reference") : nullptr;
          if (reference == nullptr || !reference->is_string()) continue;
          const std::string text(reference->as_string());
          if (!seen.insert(text).second) continue;
          auto resource = referenced(text);
          if (!resource) return tl::unexpected(resource.error());
          if (*resource) out.push_back(std::move(**resource));
        }
      }
    }
    return out;
  }

  Answer search_studies() const {
    DcmDataset keys;
    std::optional<Answer> refused;
    std::optional<std::string> patient_issuer;
    const auto page = requested_page(refused);
    if (!page || !study_search_keys(keys, patient_issuer, refused)) return *refused;
    // Every study held is available; another status matches none.
    if (const auto status = parameter("status"); !status.empty() && status != "available")
      return ok(searchset(base_, {}, links(*page, false)));
    auto found = studies(keys, patient_issuer, *page);
    if (!found) return failure(found.error());
    std::vector<json::object> resources;
    for (const auto& study : found->page) {
      auto resource = study_resource(*study);
      if (!resource) return failure(resource.error());
      resources.push_back(std::move(*resource));
    }
    auto extra = included(resources, kImagingStudyIncludes);
    if (!extra) return failure(extra.error());
    return ok(searchset(base_, std::move(resources), links(*page, found->more), std::move(*extra)));
  }

  Result<Matches> patients(DcmDataset& keys, const std::optional<std::string>& issuer,
                           const Page& page) const {
    keys.putAndInsertString(DCM_QueryRetrieveLevel, "PATIENT");
    for (const DcmTagKey& tag : {DCM_PatientID, DCM_IssuerOfPatientID, DCM_PatientName,
                                 DCM_PatientBirthDate, DCM_PatientSex})
      if (!keys.tagExists(tag)) keys.putAndInsertString(tag, "");
    return find_page(QueryModel::PatientRoot, keys, page, issuer);
  }

  // The Patient of a resource id; nullopt when there is none.
  Result<std::optional<json::object>> patient_by_id(const std::string& id) const {
    const auto identity = patient_identity_of(id);
    if (!identity) return std::optional<json::object>{};
    DcmDataset keys;
    keys.putAndInsertString(DCM_PatientID, identity->id.c_str());
    auto found = patients(keys, identity->issuer, Page{0, 1});
    if (!found) return tl::unexpected(found.error());
    if (found->page.empty()) return std::optional<json::object>{};
    return std::optional(patient(*found->page.front()));
  }

  Answer read_patient(const std::string& id) const {
    auto resource = patient_by_id(id);
    if (!resource) return failure(resource.error());
    if (!*resource) return outcome(http::status::not_found, "not-found", "no such Patient");
    return ok(**resource);
  }

  Answer search_patients() const {
    DcmDataset keys;
    std::optional<std::string> issuer;
    std::optional<Answer> refused;
    const auto page = requested_page(refused);
    if (!page) return *refused;
    if (const auto identifier = parameter("identifier"); !identifier.empty()) {
      const auto [system, value] = token_of(identifier);
      keys.putAndInsertString(DCM_PatientID, value.c_str());
      issuer = issuer_of_system(system);
    }
    // FHIR string search: starts with, case-insensitive (the node's PN matching is).
    if (const auto name = parameter("name"); !name.empty())
      keys.putAndInsertString(DCM_PatientName, (name + "*").c_str());
    auto found = patients(keys, issuer, *page);
    if (!found) return failure(found.error());
    std::vector<json::object> resources;
    for (const auto& one : found->page) resources.push_back(patient(*one));
    return ok(searchset(base_, std::move(resources), links(*page, found->more)));
  }

  Result<std::optional<json::object>> order_resource(const OrderNumbers& numbers) const {
    auto order = index_.find_order(numbers.placer, numbers.filler);
    if (!order) return tl::unexpected(order.error());
    if (!*order) return std::optional<json::object>{};
    // Active until a final report answers it.
    std::string status = "active";
    const std::string& study =
        (*order)->linked_study_uid.empty() ? (*order)->study_uid : (*order)->linked_study_uid;
    if (!study.empty()) {
      auto report = index_.find_report(study);
      if (report && *report && ((*report)->status == "F" || (*report)->status == "C"))
        status = "completed";
    }
    std::optional<PatientIdentity> subject;
    if (!(*order)->linked_study_uid.empty()) {
      auto linked = study_by_uid((*order)->linked_study_uid);
      if (!linked) return tl::unexpected(linked.error());
      if (*linked) subject = patient_identity(**linked);
    }
    return std::optional(service_request(**order, status, subject));
  }

  // The ServiceRequest of a resource id; nullopt when there is none.
  Result<std::optional<json::object>> order_by_id(const std::string& id) const {
    const auto numbers = order_numbers_of(id);
    if (!numbers) return std::optional<json::object>{};
    return order_resource(*numbers);
  }

  Answer read_order(const std::string& id) const {
    auto resource = order_by_id(id);
    if (!resource) return failure(resource.error());
    if (!*resource) return outcome(http::status::not_found, "not-found", "no such ServiceRequest");
    return ok(**resource);
  }

  Answer search_orders() const {
    std::vector<json::object> resources;
    if (const auto identifier = parameter("identifier"); !identifier.empty()) {
      const std::string value = token_of(identifier).second;
      // A filler order number first, then a placer one (the index's order of lookup).
      for (const OrderNumbers& numbers : {OrderNumbers{"", value}, OrderNumbers{value, ""}}) {
        auto resource = order_resource(numbers);
        if (!resource) return failure(resource.error());
        if (*resource) {
          resources.push_back(std::move(**resource));
          break;
        }
      }
    }
    return ok(searchset(base_, std::move(resources), links({}, false)));
  }

  Result<std::optional<json::object>> report_resource(const std::string& study_uid,
                                                      const PatientIdentity& patient) const {
    auto report = index_.find_report(study_uid);
    if (!report) return tl::unexpected(report.error());
    if (!*report) return std::optional<json::object>{};
    std::optional<std::string> order;
    if (!(*report)->placer_order.empty() || !(*report)->filler_order.empty()) {
      OrderRecord numbers;
      numbers.placer_order = (*report)->placer_order;
      numbers.filler_order = (*report)->filler_order;
      order = service_request_id(numbers);
    } else {
      order = order_of_study(study_uid);
    }
    return std::optional(diagnostic_report(**report, patient, order));
  }

  Answer read_report(const std::string& id) const {
    auto study = study_by_uid(id);
    if (!study) return failure(study.error());
    if (!*study) return outcome(http::status::not_found, "not-found", "no such DiagnosticReport");
    auto resource = report_resource(id, patient_identity(**study));
    if (!resource) return failure(resource.error());
    if (!*resource)
      return outcome(http::status::not_found, "not-found", "no such DiagnosticReport");
    return ok(**resource);
  }

  Answer search_reports() const {
    DcmDataset keys;
    std::optional<Answer> refused;
    std::optional<std::string> patient_issuer;
    const auto page = requested_page(refused);
    if (!page || !study_search_keys(keys, patient_issuer, refused)) return *refused;
    // Paged by study: a page may hold fewer reports than _count (studies without one).
    auto found = studies(keys, patient_issuer, *page);
    if (!found) return failure(found.error());
    std::vector<json::object> resources;
    for (const auto& study : found->page) {
      OFString uid;
      study->findAndGetOFString(DCM_StudyInstanceUID, uid);
      auto resource = report_resource(uid.c_str(), patient_identity(*study));
      if (!resource) return failure(resource.error());
      if (*resource) resources.push_back(std::move(**resource));
    }
    auto extra = included(resources, kDiagnosticReportIncludes);
    if (!extra) return failure(extra.error());
    return ok(searchset(base_, std::move(resources), links(*page, found->more), std::move(*extra)));
  }

  const QueryService& query_;
  Index& index_;
  std::string base_, dicomweb_url_, type_;
  const std::vector<std::pair<std::string, std::string>>* parameters_ = nullptr;
};

bool FhirApi::handles(std::string_view target) {
  const std::string_view path = web::path_of(target);
  return path == "/fhir" || path.starts_with("/fhir/");
}

namespace {

// JSON is what this server writes: an Accept header or _format that rules it out gets 406.
bool wants_json(std::string_view accept, const std::string& format) {
  if (!format.empty())
    return format == "json" || format == "application/json" || format == "application/fhir+json";
  if (accept.empty()) return true;
  for (const char* type :
       {"application/fhir+json", "application/json", "*/*", "application/*", "json"})
    if (accept.find(type) != std::string_view::npos) return true;
  return false;
}

}  // namespace

web::net::awaitable<void> FhirApi::handle(web::Exchange& exchange) {
  constexpr const char* kType = "application/fhir+json; charset=utf-8";
  const auto method = exchange.request().method();
  if (method != http::verb::get && method != http::verb::head) {
    const Answer a = outcome(http::status::method_not_allowed, "not-supported",
                             "this FHIR server is read-only: GET");
    exchange.respond(a.status, kType, a.body);
    co_return;
  }
  const auto target = web::parse_target(exchange.target());
  if (!target) {
    const Answer a = outcome(http::status::bad_request, "invalid", "broken percent-encoding");
    exchange.respond(a.status, kType, a.body);
    co_return;
  }
  const std::string format = web::query_parameter(*target, "_format");
  if (!wants_json(exchange.header(http::field::accept), format)) {
    const Answer a = outcome(http::status::not_acceptable, "not-supported",
                             "FHIR resources are served as application/fhir+json only");
    exchange.respond(a.status, kType, a.body);
    co_return;
  }
  const std::string origin = web::origin_url(exchange);
  Request request(query_, index_, origin + "/fhir", origin + dicomweb_path_);
  const Answer a = co_await exchange.blocking([&] { return request.answer(*target); });
  exchange.respond(a.status, kType, a.body);
}

}  // namespace pacs::fhir
