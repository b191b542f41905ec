// Removing objects from the archive, for every face that does it (the admin HTTP API, `pacsnode
// delete`, rejection notes, retention): the index rows go at once, in one transaction that also
// queues their files; the files go after, at once or when a rejection's grace period ends. Each
// removal is logged by UID and recorded in the audit trail (DICOM Study Deleted).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

class Remover {
 public:
  // node_aet names the node in audit records.
  Remover(Index& index, BlobStore& blobs, std::string node_aet);
  ~Remover();
  Remover(const Remover&) = delete;
  Remover& operator=(const Remover&) = delete;

  // Removes the target from the index; when its files may go at once (purge_after_ms not in the
  // future), they are gone before this returns. `requestor_address` is the caller's network
  // address for the audit record ("" for a local command).
  Result<RemovedObjects> remove(const RemovalTarget& target, const RemovalOrder& order,
                                const std::string& requestor_address = "");
  // Removes the queued files whose time has come (a file already gone counts as removed); the
  // number removed. Run at start-up too: a crash after a removal's commit leaves its files queued.
  Result<std::size_t> purge_due(std::int64_t now_ms);
  // Purges what falls due in the background, until destroyed: when a removal's grace period ends,
  // and every `period` (what an earlier process queued).
  void purge_in_background(std::chrono::milliseconds period);

 private:
  Index& index_;
  BlobStore& blobs_;
  std::string node_aet_;
  std::mutex purge_mu_;  // one purge at a time: the background one and a removal's own
  std::mutex wake_mu_;
  std::condition_variable_any wake_;
  std::int64_t next_due_ms_ = INT64_MAX;  // a purge queued since the worker slept (wake_mu_)
  std::jthread worker_;                   // last member: stopped and joined first
};

}  // namespace pacs
