#include "pacsnode/services/lease_keeper.h"

#include <algorithm>
#include <chrono>

#include "storage/model/clock.h"
#include "storage/model/log.h"

namespace pacs {

LeaseKeeper::LeaseKeeper(Index& index, ClaimPolicy claims)
    : index_(index),
      claims_(std::move(claims)),
      worker_([this](std::stop_token stop) { run(stop); }) {}

LeaseKeeper::~LeaseKeeper() {
  worker_.request_stop();
  wake_.notify_all();
}

void LeaseKeeper::run(std::stop_token stop) {
  const auto period = std::chrono::milliseconds(std::max<std::int64_t>(claims_.lease_ms / 3, 100));
  // Bounded by stop(): one renewal per period.
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, stop, period, [] { return false; });
    }
    if (stop.stop_requested()) break;
    if (auto renewed = index_.renew_leases(claims_, wall_clock_ms()); !renewed)
      PACS_LOG(Warn) << "cannot renew the leases of node " << claims_.node << ": "
                     << renewed.error().message;
  }
}

void release_claims(Index& index, const std::string& node) {
  if (auto released = index.release_claims(node); !released)
    PACS_LOG(Warn) << "cannot release the claims of node " << node << ": "
                   << released.error().message;
  else if (*released)
    PACS_LOG(Info) << "released " << *released << " items node " << node << " had claimed";
}

ReleaseClaimsAtStop::~ReleaseClaimsAtStop() {
  release_claims(index_, node_);
}

}  // namespace pacs
