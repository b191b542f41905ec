// The DICOMweb face (PS3.18 Studies Service): routes requests under the base path to QIDO-RS,
// WADO-RS and STOW-RS. It translates HTTP to the shared services and back, and owns nothing else.
#pragma once

#include <string>

#include "dicomweb/http_server.h"
#include "pacsnode/services/deidentify.h"
#include "pacsnode/services/ingest.h"
#include "pacsnode/services/query.h"
#include "pacsnode/services/retrieve.h"

namespace pacs::web {

struct WebContext {
  QueryService& query;
  RetrieveService& retrieve;
  IngestService& ingest;
  std::string base_path = "/dicom-web";
  std::string aet = "PACSNODE";  // the node, as the audit trail names it
  // For anonymize=yes (WADO-URI, and WADO-RS as a pacsnode extension); null: refused.
  const deid::Deidentifier* deidentifier = nullptr;
};

class DicomWebService {
 public:
  explicit DicomWebService(WebContext context) : context_(std::move(context)) {}
  net::awaitable<void> handle(Exchange& exchange);

 private:
  WebContext context_;
};

}  // namespace pacs::web
