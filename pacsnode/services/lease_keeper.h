// Keeps a node's claims on shared work alive while it lives: a node attempting an item (a long
// forwarding association, an HL7 destination that is slow to answer) renews the leases of what it
// holds every third of the lease, so only a node that died or stalled loses its items to others.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "storage/index.h"

namespace pacs {

class LeaseKeeper {
 public:
  LeaseKeeper(Index& index, ClaimPolicy claims);
  ~LeaseKeeper();  // stops and joins
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

 private:
  void run(std::stop_token stop);

  Index& index_;
  const ClaimPolicy claims_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::jthread worker_;
};

}  // namespace pacs
