// The imaging workflow's JSON API on the HTTP port, under /api: the studies and their link to an
// order (the unreconciled ones with the reason), an operator's link of a study to an order, the
// studies' reports, and the outbound HL7 outbox. The web UI (a later issue) sits on it.
#pragma once

#include <string_view>

#include "dicomweb/http_server.h"
#include "storage/index.h"

namespace pacs::web {

class WorkflowApi {
 public:
  explicit WorkflowApi(Index& index) : index_(index) {}
  static bool handles(std::string_view target) { return target.starts_with("/api/"); }
  net::awaitable<void> handle(Exchange& exchange);

 private:
  Index& index_;
};

}  // namespace pacs::web
