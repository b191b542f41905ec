// Keeps a node's claims on shared work alive while it lives: a node attempting an item (a long
// forwarding association, an HL7 destination that is slow to answer) renews the leases of what it
// holds every third of the lease, so only a node that died or stalled loses its items to others.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
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

// Ends every claim of the node (logged): at its start (what the name held when a node of that
// name died) and at its graceful stop.
void release_claims(Index& index, const std::string& node);

// Ends a node's claims when it goes (a graceful stop): what it claimed and did not attempt is due
// for the other nodes at once instead of when the lease lapses. Made before the workers that claim,
// so that it goes after they stopped.
class ReleaseClaimsAtStop {
 public:
  ReleaseClaimsAtStop(Index& index, std::string node) : index_(index), node_(std::move(node)) {}
  ~ReleaseClaimsAtStop();
  ReleaseClaimsAtStop(const ReleaseClaimsAtStop&) = delete;
  ReleaseClaimsAtStop& operator=(const ReleaseClaimsAtStop&) = delete;

 private:
  Index& index_;
  const std::string node_;
};

}  // namespace pacs
