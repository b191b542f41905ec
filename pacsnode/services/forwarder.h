// The outbound queue's worker: sends queued instances to their destinations, retrying with
// exponential backoff; an item that exhausts its attempts stays in the queue as failed, with why.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pacsnode/services/retrieve.h"
#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

struct ForwardPolicy {
  double first_retry_seconds = 5;
  double max_retry_seconds = 600;
  unsigned max_attempts = 20;
  ClaimPolicy claims = {};  // items are claimed under this node's name (several may share a queue)
};

// Sends items to one destination; returns the SOP Instance UIDs that did not arrive, and sets
// error to the reason (for the log and the queue).
using SendToDestination = std::function<std::vector<std::string>(
    const std::string& destination, const std::vector<RetrieveItem>& items, std::string& error)>;

class Forwarder {
 public:
  Forwarder(Index& index, const BlobStore& blobs, SendToDestination send, ForwardPolicy policy);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  void wake();  // new items were queued

 private:
  void run(std::stop_token stop);
  void attempt_due_items();

  Index& index_;
  const BlobStore& blobs_;
  SendToDestination send_;
  ForwardPolicy policy_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  bool woken_ = false;   // guarded by mu_
  std::jthread worker_;  // last member: stopped and joined first
};

}  // namespace pacs
