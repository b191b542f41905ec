// The FHIR R4 read API on the HTTP port, under /fhir: ImagingStudy, Patient, ServiceRequest,
// DiagnosticReport and the DICOMweb Endpoint (read and search), and the CapabilityStatement at
// /fhir/metadata. Studies and patients come through the query service (the C-FIND and QIDO-RS
// matching, the same code), orders and reports from the index. JSON only.
#pragma once

#include <string>
#include <string_view>

#include "dicomweb/http_server.h"
#include "pacsnode/services/query.h"
#include "storage/index.h"

namespace pacs::fhir {

class FhirApi {
 public:
  // dicomweb_path: where the DICOMweb service is on this port (the Endpoint's address).
  FhirApi(const QueryService& query, Index& index, std::string dicomweb_path)
      : query_(query), index_(index), dicomweb_path_(std::move(dicomweb_path)) {}
  static bool handles(std::string_view target);
  web::net::awaitable<void> handle(web::Exchange& exchange);

  struct Answer {
    web::http::status status;
    std::string body;
  };

 private:
  const QueryService& query_;
  Index& index_;
  std::string dicomweb_path_;
};

}  // namespace pacs::fhir
