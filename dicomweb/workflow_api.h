// The imaging workflow's JSON API on the HTTP port, under /api: the studies and their link to an
// order (the unreconciled ones with the reason), an operator's link of a study to an order or to
// a patient, the studies' reports, the worklist, and the outbound HL7 outbox with a retry, and each
// item's message to read and edit (a dead letter fixed by hand, then replayed). The web UI sits on
// it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "dicomweb/http_server.h"
#include "pacsnode/services/query.h"
#include "storage/index.h"

namespace pacs::web {

// The outbound HL7 worker's side of an outbox item's message (empty when no destination is
// configured): the message it would send now, and whether an operator's edit can be sent.
struct OutboxMessages {
  std::function<Result<std::string>(const OutboxItem&)> render;
  std::function<Result<void>(const std::string&)> check;
};

class WorkflowApi {
 public:
  WorkflowApi(Index& index, const QueryService& query, OutboxMessages outbox = {})
      : index_(index), query_(query), outbox_(std::move(outbox)) {}
  static bool handles(std::string_view target) { return target.starts_with("/api/"); }
  net::awaitable<void> handle(Exchange& exchange);

 private:
  net::awaitable<void> outbox_message(Exchange& exchange, const std::string& id_text);

  Index& index_;
  const QueryService& query_;  // the worklist, with Modality Worklist's matching
  OutboxMessages outbox_;
};

}  // namespace pacs::web
