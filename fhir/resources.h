// FHIR R4 resources (JSON) from what the node keeps: ImagingStudy from the index's study, series
// and instance attributes, Patient, ServiceRequest from an HL7 order, DiagnosticReport from an ORU
// report, the DICOMweb Endpoint, and the searchset Bundle, OperationOutcome and
// CapabilityStatement around them. Pure mapping, no I/O: fhir_api.cpp fetches.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>

#include <boost/json/value.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/model/orders.h"

namespace pacs::fhir {

// A FHIR id ([A-Za-z0-9.-]{1,64}) for a DICOM or HL7 identifier: the text itself where it is one,
// else "x" and its bytes in hex; nullopt when even that does not fit.
std::optional<std::string> resource_id(const std::string& text);
// The identifier a resource id stands for; nullopt for an id resource_id cannot have made.
std::optional<std::string> identifier_of(const std::string& id);

// A patient is its Patient ID within its issuer (Issuer of Patient ID, PID-3.4): two hospitals'
// "12345" are two Patients. The resource id is resource_id(id) when there is no issuer, else the
// hex form of issuer, US (0x1F, never in a DICOM LO) and id, so a read finds exactly one.
struct PatientIdentity {
  std::string id, issuer;
};
std::optional<std::string> patient_resource_id(const PatientIdentity& patient);
std::optional<PatientIdentity> patient_identity_of(const std::string& resource_id);
// The patient of a dataset with Patient ID and Issuer of Patient ID.
PatientIdentity patient_identity(const DcmDataset& attributes);

// The ServiceRequest of an order is named by its filler order number, or its placer order number
// when it has none ("f-" / "p-" and the resource_id).
std::optional<std::string> service_request_id(const OrderRecord& order);
struct OrderNumbers {
  std::string placer, filler;
};
std::optional<OrderNumbers> order_numbers_of(const std::string& service_request_id);

struct SeriesAttributes {
  std::unique_ptr<DcmDataset> series;
  std::vector<std::unique_ptr<DcmDataset>> instances;
};

struct StudyResources {
  const DcmDataset& study;  // study level, with the patient's attributes
  const std::vector<SeriesAttributes>& series;
  std::optional<std::string> service_request;  // the order's ServiceRequest id
};

boost::json::object imaging_study(const StudyResources& study);
boost::json::object patient(const DcmDataset& attributes);
// `subject`: the patient of the order's study as the archive holds it (an order may name the
// issuer a modality left out); the order's own patient when no study is linked.
boost::json::object service_request(const OrderRecord& order, const std::string& status,
                                    const std::optional<PatientIdentity>& subject);
boost::json::object diagnostic_report(const ReportRecord& report, const PatientIdentity& patient,
                                      const std::optional<std::string>& service_request);
boost::json::object endpoint(const std::string& dicomweb_url);
boost::json::object capability_statement(const std::string& base, const std::string& now_utc);

// An _include value a search serves ("ImagingStudy:subject") and the element of a match that
// holds the reference(s) it follows.
struct IncludePath {
  std::string_view value, element;
};
inline constexpr IncludePath kImagingStudyIncludes[] = {{"ImagingStudy:subject", "subject"},
                                                        {"ImagingStudy:patient", "subject"},
                                                        {"ImagingStudy:basedon", "basedOn"},
                                                        {"ImagingStudy:endpoint", "endpoint"}};
inline constexpr IncludePath kDiagnosticReportIncludes[] = {
    {"DiagnosticReport:subject", "subject"},
    {"DiagnosticReport:patient", "subject"},
    {"DiagnosticReport:based-on", "basedOn"}};

// Where a searchset Bundle stands in its search.
struct SearchLinks {
  std::string self;       // the search's own URL ("" leaves the links out)
  std::string next;       // the next page's URL; "" on the last page
  bool holds_all = true;  // the bundle holds every match: its size is the search's total
};
// A searchset Bundle of full resources; `base` is the FHIR root (http://host:port/fhir).
// `included`: resources the matches refer to that the search asked for with _include (search
// mode "include"; not counted in the total).
boost::json::object searchset(const std::string& base, std::vector<boost::json::object> resources,
                              const SearchLinks& links = {},
                              std::vector<boost::json::object> included = {});
// An OperationOutcome with one issue: severity error, the code (not-found, invalid,
// not-supported, exception) and the message.
boost::json::object operation_outcome(const std::string& code, const std::string& message);

}  // namespace pacs::fhir
