// The outbound HL7 worker: completes studies after their quiet period, and delivers the outbox
// (study-complete, procedure-status) to the configured RIS/EHR destinations over MLLP. An item is
// delivered only on an AA; an AE/AR is final (kept as failed, with the reason); no answer is
// retried with a growing delay, up to max_attempts, and then set aside as failed (a dead letter)
// so the items behind it flow. An operator can read a set-aside item's message, edit it (the edit
// is sent as it is) and replay it. The outbox lives in the index, so it survives restarts.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "hl7bridge/mllp_client.h"
#include "hl7bridge/notifications.h"
#include "storage/index.h"

namespace pacs::hl7 {

struct OutboxOptions {
  std::map<std::string, MllpPeer> destinations;   // by name
  std::chrono::seconds study_quiet_period{60};    // no new instance for this long: complete
  std::chrono::milliseconds send_timeout{10000};  // connect, send, and ACK
  std::chrono::milliseconds poll_interval{250};
  std::chrono::seconds max_retry_delay{300};
  std::int64_t max_attempts = 20;  // with the delays above, about an hour
  NotificationOptions messages;
  ClaimPolicy claims = {};  // items are claimed under this node's name (several may share one)
};

class Outbox {
 public:
  Outbox(Index& index, OutboxOptions options);
  ~Outbox();  // stops and joins
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  std::vector<std::string> destination_names() const;
  // The message an item sends now: the operator's edit, or the node's own from the study's facts.
  // NotFound when the study is not known.
  Result<std::string> message_for(const OutboxItem& item) const;
  // Whether an operator's edit can be sent: an HL7 v2 message that parses, with its MSH.
  static Result<void> check_edit(const std::string& message);

 private:
  void run(std::stop_token stop);
  void deliver(const OutboxItem& item);

  Index& index_;
  OutboxOptions options_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::jthread worker_;
};

}  // namespace pacs::hl7
