// Group commit: index writes from many associations share one transaction and one sync.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "storage/index.h"

namespace pacs {

class GroupCommitter {
 public:
  explicit GroupCommitter(Index& index);
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Blocks until the write is committed (or failed). Writes that arrive while a batch commits
  // wait together and go into the next batch, so a lone writer pays no extra latency.
  Result<WriteResult> commit(IndexWrite write);

 private:
  struct Pending {
    IndexWrite write;
    std::promise<Result<WriteResult>> done;
  };

  void run(std::stop_token stop);
  void commit_batch(std::vector<Pending*>& batch);

  static constexpr std::size_t kMaxBatch = 256;
  Index& index_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::deque<Pending*> queue_;  // guarded by mu_
  std::jthread worker_;         // last member: joined before the queue goes away
};

}  // namespace pacs
