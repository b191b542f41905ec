// The remote AEs the node sends to (C-MOVE destinations, routing targets), by AE title. Shared by
// the DIMSE face and the forwarder, and replaced whole when the configuration is reloaded.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "pacsnode/dimse/sender.h"

namespace pacs::dimse {

class PeerDirectory {
 public:
  explicit PeerDirectory(std::map<std::string, RemoteAe> peers) : peers_(std::move(peers)) {}
  std::optional<RemoteAe> find(const std::string& aet) const {
    std::lock_guard lock(mu_);
    const auto it = peers_.find(aet);
    if (it == peers_.end()) return std::nullopt;
    return it->second;
  }
  void replace(std::map<std::string, RemoteAe> peers) {
    std::lock_guard lock(mu_);
    peers_ = std::move(peers);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, RemoteAe> peers_;  // guarded by mu_
};

}  // namespace pacs::dimse
