// C-STORE sub-operations of a C-MOVE: stored files sent to a destination AE as a storage SCU.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pacsnode/services/retrieve.h"

class DcmDataset;
class DcmTransportLayer;

namespace pacs::dimse {

struct RemoteAe {
  std::string host;
  std::uint16_t port = 0;
  // Associations to it go over TLS through this layer (shared, made once at start); null: plain.
  std::shared_ptr<DcmTransportLayer> tls;
};

struct SubOperations {
  unsigned remaining = 0, completed = 0, failed = 0, warning = 0;
  std::vector<std::string> failed_sop_instances;
  std::string error;  // why the last failure happened

  // One finished sub-operation with the status it ended with (PS3.4 C.4.2.1.5).
  void count(const std::string& sop_instance, std::uint16_t status, const std::string& failure);
};

// PS3.4 C.4.2.1.5 / C.4.3.1.5: the final status of a retrieve from its sub-operations, and the
// identifier (Failed SOP Instance UID List) that goes with any status other than success.
std::uint16_t final_retrieve_status(const SubOperations& counts, bool cancelled);
void put_failed_list(const SubOperations& counts, DcmDataset& identifier);

// Pending C-MOVE/C-GET responses are optional (PS3.4 C.4.2.1.5, C.4.3.1.5); one per sub-operation
// costs a message, and the requester's processing of it, for every instance. The first goes out at
// once (the requester sees the retrieve start and may cancel), then at most one per interval, as
// archives such as dcm4chee do.
class PendingPacer {
 public:
  static constexpr std::chrono::milliseconds kDefaultInterval{100};
  explicit PendingPacer(std::chrono::milliseconds interval = kDefaultInterval)
      : interval_(interval) {}
  // True when a pending response should be sent now.
  bool due() {
    const auto now = std::chrono::steady_clock::now();
    if (sent_any_ && now - last_ < interval_) return false;
    sent_any_ = true;
    last_ = now;
    return true;
  }

 private:
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_{};
  bool sent_any_ = false;
};

struct SendRequest {
  std::string own_aet;
  std::string destination_aet;
  RemoteAe destination;
  std::string move_originator_aet;  // the C-MOVE requester, carried in every sub-operation
  std::uint16_t move_originator_message_id = 0;
  unsigned timeout_seconds = 60;
};

// Sends the items, proposing each file's stored transfer syntax plus uncompressed fallbacks (DCMTK
// decompresses JPEG, JPEG-LS, RLE and deflate where the destination accepts only those); one
// association per 128 presentation contexts. After each
// sub-operation, progress is called with the counts; returning false stops the sending (cancel).
SubOperations send_instances(const SendRequest& request, const std::vector<RetrieveItem>& items,
                             const std::function<bool(const SubOperations&)>& progress);

}  // namespace pacs::dimse
