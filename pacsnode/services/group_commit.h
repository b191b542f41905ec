// Group commit: index writes from many associations share one transaction, one index sync and one
// sync per directory their files went into.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

class GroupCommitter {
 public:
  GroupCommitter(Index& index, BlobStore& blobs);
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Queues a write; the future is ready once the directory entry of its file is synced and the row
  // committed (or either failed). The caller syncs the file's data itself, meanwhile. Writes that
  // arrive while a batch commits wait together and go into the next batch, so a lone writer pays no
  // extra latency.
  std::future<Result<WriteResult>> submit(IndexWrite write);

 private:
  struct Pending {
    IndexWrite write;
    std::promise<Result<WriteResult>> done;
  };

  void run(std::stop_token stop);
  void commit_batch(std::vector<std::unique_ptr<Pending>>& batch);

  static constexpr std::size_t kMaxBatch = 256;
  Index& index_;
  BlobStore& blobs_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::deque<std::unique_ptr<Pending>> queue_;  // guarded by mu_
  std::vector<std::jthread> workers_;           // last member: joined before the queue goes away
};

}  // namespace pacs
