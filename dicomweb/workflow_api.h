// The imaging workflow's JSON API on the HTTP port, under /api: the studies and their link to an
// order (the unreconciled ones with the reason), an operator's link of a study to an order or to
// a patient, the studies' reports, the worklist, the log of HL7 messages processed with their
// ACKs, and the outbound HL7 outbox with a retry. The web UI sits on it.
#pragma once

#include <string_view>

#include "dicomweb/http_server.h"
#include "pacsnode/services/query.h"
#include "storage/index.h"

namespace pacs::web {

class WorkflowApi {
 public:
  WorkflowApi(Index& index, const QueryService& query) : index_(index), query_(query) {}
  static bool handles(std::string_view target) { return target.starts_with("/api/"); }
  net::awaitable<void> handle(Exchange& exchange);

 private:
  Index& index_;
  const QueryService& query_;  // the worklist, with Modality Worklist's matching
};

}  // namespace pacs::web
