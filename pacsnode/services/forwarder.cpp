#include "pacsnode/services/forwarder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "storage/model/log.h"

namespace pacs {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Forwarder::Forwarder(Index& index, const BlobStore& blobs, SendToDestination send,
                     ForwardPolicy policy)
    : index_(index),
      blobs_(blobs),
      send_(std::move(send)),
      policy_(policy),
      worker_([this](std::stop_token stop) { run(stop); }) {}

Forwarder::~Forwarder() {
  worker_.request_stop();
  wake_.notify_all();
}

void Forwarder::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_one();
}

void Forwarder::run(std::stop_token stop) {
  // Due items are looked for when woken and at least every poll interval (retries come due).
  const auto poll = std::chrono::milliseconds(
      std::clamp<long>(std::lround(policy_.first_retry_seconds * 1000 / 2), 50, 1000));
  while (!stop.stop_requested()) {
    attempt_due_items();
    std::unique_lock lock(mu_);
    if (wake_.wait_for(lock, stop, poll, [this] { return woken_; })) {
      // Instances of a study arrive one after another: gather them for one association rather
      // than opening one per instance.
      constexpr auto kGather = std::chrono::milliseconds(200);
      wake_.wait_for(lock, stop, kGather, [] { return false; });
    }
    woken_ = false;
  }
}

void Forwarder::attempt_due_items() {
  constexpr std::size_t kBatch = 200;
  auto due = index_.claim_queue_items(now_ms(), kBatch, policy_.claims);
  if (!due) {
    PACS_LOG(Warn) << "forwarding: cannot read the outbound queue: " << due.error().message;
    return;
  }
  std::map<std::string, std::vector<const QueueItem*>> by_destination;
  for (const QueueItem& item : *due) by_destination[item.destination].push_back(&item);

  for (const auto& [destination, items] : by_destination) {
    std::vector<RetrieveItem> sendable;
    for (const QueueItem* item : items)
      if (!item->relative_path.empty())
        sendable.push_back({item->sop_class_uid,
                            item->sop_instance_uid,
                            item->transfer_syntax,
                            blobs_.absolute(item->relative_path),
                            {},
                            {},
                            blobs_.cache_path(item->relative_path),
                            std::nullopt});
    std::string error;
    const std::vector<std::string> failed_list =
        sendable.empty() ? std::vector<std::string>{} : send_(destination, sendable, error);
    const std::set<std::string> failed(failed_list.begin(), failed_list.end());
    const std::int64_t now = now_ms();
    for (const QueueItem* item : items) {
      std::string state = "sent", why;
      std::int64_t next = 0;
      if (item->relative_path.empty()) {
        state = "failed";
        why = "the instance is no longer stored";
      } else if (failed.count(item->sop_instance_uid)) {
        why = error.empty() ? "the destination refused it" : error;
        const auto attempts = item->attempts + 1;
        if (attempts >= static_cast<std::int64_t>(policy_.max_attempts)) {
          state = "failed";
        } else {
          state = "pending";
          const double delay = std::min(policy_.max_retry_seconds,
                                        policy_.first_retry_seconds * std::pow(2.0, attempts - 1));
          next = now + static_cast<std::int64_t>(delay * 1000);
        }
      }
      if (state == "failed")
        PACS_LOG(Error) << "forwarding " << item->sop_instance_uid << " to " << destination
                        << " gave up after " << item->attempts + 1 << " attempts: " << why;
      if (auto ok = index_.update_queue_item(item->id, state, next, why, now); !ok)
        PACS_LOG(Warn) << "forwarding: cannot update the queue: " << ok.error().message;
    }
    PACS_LOG(Info) << "forwarded to " << destination << ": " << sendable.size() - failed.size()
                   << " sent, " << failed.size() << " to retry or failed"
                   << (error.empty() ? "" : " (" + error + ")");
  }
}

}  // namespace pacs
