#include "pacsnode/services/group_commit.h"

namespace pacs {

GroupCommitter::GroupCommitter(Index& index)
    : index_(index), worker_([this](std::stop_token stop) { run(stop); }) {}

GroupCommitter::~GroupCommitter() {
  worker_.request_stop();
  wake_.notify_all();
}

Result<WriteResult> GroupCommitter::commit(IndexWrite write) {
  Pending pending{std::move(write), {}};
  auto done = pending.done.get_future();
  {
    std::lock_guard lock(mu_);
    queue_.push_back(&pending);
  }
  wake_.notify_one();
  return done.get();
}

void GroupCommitter::run(std::stop_token stop) {
  std::vector<Pending*> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, stop, [this] { return !queue_.empty(); });
      if (queue_.empty()) return;  // stop requested and nothing left to do
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    commit_batch(batch);
    batch.clear();
  }
}

void GroupCommitter::commit_batch(std::vector<Pending*>& batch) {
  std::vector<IndexWrite> writes;
  writes.reserve(batch.size());
  for (Pending* p : batch) writes.push_back(p->write);
  auto results = index_.write_batch(writes);
  if (results) {
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value((*results)[i]);
    return;
  }
  if (batch.size() == 1) {
    batch[0]->done.set_value(tl::unexpected(results.error()));
    return;
  }
  // One bad write must not fail its neighbours: try each on its own.
  for (Pending* p : batch) {
    auto single = index_.write_batch(std::span<const IndexWrite>(&p->write, 1));
    if (single) p->done.set_value(single->at(0));
    else p->done.set_value(tl::unexpected(single.error()));
  }
}

}  // namespace pacs
