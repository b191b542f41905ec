// The log of inbound HL7 messages on the HTTP port, and its dead letters: a message the node
// refused (AE, AR) or set aside after its attempts keeps its text, for an operator to read, edit
// (audited) and replay.
//   GET  /api/hl7/messages[?controlId=..][&state=dead][&limit=N]   newest first, with each ACK
//   GET  /api/hl7/messages/{id}/message       a dead letter's text (one segment per line)
//   PUT  /api/hl7/messages/{id}/message       an operator's edit (any line ends)
//   POST /api/hl7/messages/{id}/replay        handled again; answers with the new ACK
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "dicomweb/http_server.h"
#include "storage/index.h"

namespace pacs::web {

// The HL7 face's side: a replay of a dead letter (its ACK), and whether an edit is a message.
struct Hl7MessageActions {
  std::function<Result<std::string>(std::int64_t id)> replay;
  std::function<Result<void>(const std::string& message)> check;
  std::size_t max_message_bytes = 1 << 20;
};

class Hl7MessagesApi {
 public:
  Hl7MessagesApi(Index& index, Hl7MessageActions actions)
      : index_(index), actions_(std::move(actions)) {}
  static bool handles(std::string_view target) { return target.starts_with("/api/hl7/messages"); }
  net::awaitable<void> handle(Exchange& exchange);

 private:
  Index& index_;
  Hl7MessageActions actions_;
};

}  // namespace pacs::web
