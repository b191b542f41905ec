// anonymize=yes on WADO-URI (PS3.18 9.1.2.4.9) and, as a pacsnode extension, on WADO-RS instance
// retrieval: the request's parameter, and the audit record of what went out de-identified.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include "dicomweb/handlers.h"
#include "security/audit_trail.h"

namespace pacs::web {

bool anonymize_parameter(Exchange& exchange, const WebContext& context,
                         const QueryParameters& parameters, const deid::Deidentifier*& out) {
  out = nullptr;
  std::string value;
  for (const auto& [name, v] : parameters)
    if (name == "anonymize") value = v;
  if (value.empty() || value == "no") return true;
  if (value != "yes") {
    reply_error(exchange, http::status::bad_request, "anonymize must be yes or no");
    return false;
  }
  if (context.deidentifier == nullptr) {
    reply_error(exchange, http::status::service_unavailable, "de-identification is not set up");
    return false;
  }
  out = context.deidentifier;
  return true;
}

void audit_anonymized(const Exchange& exchange, const WebContext& context,
                      const std::vector<const RetrieveItem*>& sent, int outcome) {
  audit::TransferTally tally;
  for (const RetrieveItem* item : sent)
    tally.add(item->study_uid, context.retrieve.patient_of_study(item->study_uid),
              item->sop_class_uid);
  // The caller both asked for the copies and received them.
  audit::record(audit::instances_exported(outcome, audit::node_participant(context.aet, false),
                                          requestor(exchange), tally.studies(),
                                          "de-identified: " + deid::to_string(deid::Options{})));
}

}  // namespace pacs::web
