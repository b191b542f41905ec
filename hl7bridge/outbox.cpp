#include "hl7bridge/outbox.h"

#include <algorithm>

#include "hl7bridge/message.h"
#include "storage/model/clock.h"
#include "storage/model/log.h"

namespace pacs::hl7 {
namespace {

std::string msa_code(const std::string& ack) {
  auto parsed = Message::parse(ack);
  if (!parsed) return {};
  const Segment* msa = parsed->find("MSA");
  return msa ? msa->value(1) : std::string();
}

}  // namespace

Outbox::Outbox(Index& index, OutboxOptions options) : index_(index), options_(std::move(options)) {
  worker_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

Outbox::~Outbox() {
  worker_.request_stop();
  wake_.notify_all();
}

std::vector<std::string> Outbox::destination_names() const {
  std::vector<std::string> names;
  for (const auto& [name, peer] : options_.destinations) names.push_back(name);
  return names;
}

void Outbox::run(std::stop_token stop) {
  const auto names = destination_names();
  // Bounded by stop(): every pass does a bounded batch, then waits the poll interval unless the
  // batch was full.
  while (!stop.stop_requested()) {
    const std::int64_t now = wall_clock_ms();
    const auto quiet_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.study_quiet_period).count();
    if (auto completed = index_.complete_quiet_studies(now - quiet_ms, names, 100); !completed)
      PACS_LOG(Warn) << "outbox: " << completed.error().message;
    else if (*completed)
      PACS_LOG(Info) << "outbox: " << *completed << " studies complete";
    constexpr std::size_t kBatch = 50;
    bool backlog = false;
    if (auto due = index_.claim_outbox(now, kBatch, options_.claims)) {
      for (const OutboxItem& item : *due) {
        if (stop.stop_requested()) break;
        deliver(item);
      }
      backlog = due->size() == kBatch;
    } else {
      PACS_LOG(Warn) << "outbox: " << due.error().message;
    }
    if (backlog) continue;  // a backlog (after an outage, a restart) drains without pauses
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, stop, options_.poll_interval, [] { return false; });
  }
}

Result<std::string> Outbox::message_for(const OutboxItem& item) const {
  if (!item.edited_message.empty()) return item.edited_message;
  auto facts = index_.study_facts(item.subject);
  if (!facts) return tl::unexpected(facts.error());
  if (!*facts) return fail(ErrorCode::NotFound, "study " + item.subject + " is not known");
  // The control ID is the item's own: a resend after a lost ACK is the same message.
  const std::string control_id = "PNO" + std::to_string(item.id);
  return item.event == "procedure-status"
             ? procedure_status_message(options_.messages, **facts, item.detail, control_id,
                                        hl7_timestamp_now())
             : study_available_message(options_.messages, **facts, control_id, hl7_timestamp_now());
}

Result<void> Outbox::check_edit(const std::string& message) {
  auto parsed = Message::parse(message);
  if (!parsed)
    return fail(ErrorCode::InvalidArgument, "not an HL7 v2 message: " + parsed.error().message);
  if (parsed->message_type().empty() || parsed->control_id().empty())
    return fail(ErrorCode::InvalidArgument,
                "the message needs its type (MSH-9) and control ID "
                "(MSH-10)");
  return {};
}

void Outbox::deliver(const OutboxItem& item) {
  auto retry_later = [&](const std::string& why) {
    if (item.attempts + 1 >= options_.max_attempts) {
      // A dead letter: set aside with the reason, so the items behind it flow; an operator
      // replays it (POST /api/outbox/{id}/retry) once the cause is fixed.
      (void)index_.update_outbox(
          item.id, "failed", 0,
          "gave up after " + std::to_string(item.attempts + 1) + " attempts: " + why);
      PACS_LOG(Warn) << "outbox #" << item.id << " to " << item.destination << ": " << why
                     << "; set aside after " << item.attempts + 1 << " attempts";
      return;
    }
    // 1 s, 2 s, 4 s ... up to the maximum.
    const auto delay = std::min<std::int64_t>(
        std::int64_t{1000} << std::min<std::int64_t>(item.attempts, 20),
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_retry_delay).count());
    PACS_LOG(Warn) << "outbox #" << item.id << " to " << item.destination << ": " << why
                   << "; next attempt in " << delay << " ms";
    (void)index_.update_outbox(item.id, "pending", wall_clock_ms() + delay, why);
  };
  const auto peer = options_.destinations.find(item.destination);
  if (peer == options_.destinations.end()) {
    (void)index_.update_outbox(item.id, "failed", 0,
                               "destination " + item.destination + " is not configured");
    return;
  }
  auto message = message_for(item);
  if (!message) {
    if (message.error().code != ErrorCode::NotFound) return retry_later(message.error().message);
    (void)index_.update_outbox(item.id, "failed", 0, message.error().message);
    return;
  }
  auto ack = send_mllp(peer->second, *message, options_.send_timeout);
  if (!ack) return retry_later(ack.error().message);
  const std::string code = msa_code(*ack);
  if (code == "AA" || code == "CA") {
    (void)index_.update_outbox(item.id, "sent", 0, "");
    PACS_LOG(Info) << "outbox #" << item.id << " " << item.event << " of " << item.subject
                   << " delivered to " << item.destination;
    return;
  }
  // AE/AR: the receiver understood and refused; sending it again would not help.
  (void)index_.update_outbox(item.id, "failed", 0,
                             "answered " + (code.empty() ? std::string("?") : code));
  PACS_LOG(Warn) << "outbox #" << item.id << " to " << item.destination << " refused (" << code
                 << ")";
}

}  // namespace pacs::hl7
