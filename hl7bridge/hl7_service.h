// What the node does with an HL7 message: checks its header, applies it once (orders to the
// worklist, ADT to the patient, reports to the study) and answers with an original-mode
// acknowledgement. The MLLP server carries the bytes.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "hl7bridge/orders.h"
#include "pacsnode/services/reports.h"
#include "storage/index.h"

namespace pacs::hl7 {

struct Hl7Options {
  std::string application = "PACSNODE";  // MSH-3 of our acknowledgements
  std::string facility;                  // MSH-4
  OrderOptions orders;
  // Asked before a message is applied: an error (the data disk at its reserve) answers AE 207,
  // unrecorded, so the sender sends the message again later. Empty: always room.
  std::function<Result<void>()> room_for_writes;
  // A message that failed this many times in a way that may pass (AE 207, not recorded) is set
  // aside: recorded as a dead letter with the reason, so its sender's queue moves on. 0: never.
  unsigned max_inbound_attempts = 10;
};

// What the metrics and the audit trail say of a message, read while it is handled.
struct MessageFacts {
  std::string type;                 // MSH-9, once the message parses
  std::string sending_application;  // MSH-3
  std::string patient_id;           // PID-3
  std::string order_control;        // ORC-1
};

class Hl7Service {
 public:
  // reports: where ORU^R01 reports go (nullptr: ORU is refused as unsupported).
  Hl7Service(Index& index, Hl7Options options, ReportService* reports = nullptr);

  // The acknowledgement for one message (without MLLP framing). AA only once the message's
  // effect and its record are committed; the recorded ACK again for a message seen before from
  // the same sender. nullopt when the message could not be processed for a reason that may pass
  // (the index unreachable): no answer, so the sender sends it again later.
  std::optional<std::string> handle(std::string_view bytes);

  // Handles a dead letter (its log id) again, as it is now (an operator may have edited it): its
  // record is replaced by the new outcome's. The acknowledgement, for the operator (the sender
  // had its answer long ago); NotFound when the id is no dead letter, IndexUnavailable when the
  // message could not be processed now.
  Result<std::string> replay(std::int64_t dead_letter_id);

 private:
  // handle() without the counting and auditing; `replaces`: the dead letter a replay takes over
  // (its text is UTF-8 already).
  std::optional<std::string> respond(std::string_view bytes, MessageFacts& facts,
                                     std::int64_t replaces = 0);
  std::string next_control_id();

  Index& index_;
  Hl7Options options_;
  ReportService* reports_;
  std::atomic<std::uint64_t> counter_{0};
};

}  // namespace pacs::hl7
