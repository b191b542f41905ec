#include "pacsnode/services/group_commit.h"

#include <algorithm>
#include <map>

namespace pacs {

GroupCommitter::GroupCommitter(Index& index, BlobStore& blobs) : index_(index), blobs_(blobs) {
  // Each worker commits its own batch; with one worker (SQLite) batches form while it commits.
  for (unsigned i = 0; i < std::max(1u, index.parallel_writers()); ++i)
    workers_.emplace_back([this](std::stop_token stop) { run(stop); });
}

GroupCommitter::~GroupCommitter() {
  for (auto& w : workers_) w.request_stop();
  wake_.notify_all();
}

std::future<Result<WriteResult>> GroupCommitter::submit(IndexWrite write) {
  auto pending = std::make_unique<Pending>(Pending{std::move(write), {}});
  auto done = pending->done.get_future();
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(pending));
  }
  wake_.notify_one();
  return done;
}

void GroupCommitter::run(std::stop_token stop) {
  std::vector<std::unique_ptr<Pending>> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, stop, [this] { return !queue_.empty(); });
      if (queue_.empty()) return;  // stop requested and nothing left to do
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_batch(batch);
    batch.clear();
  }
}

void GroupCommitter::commit_batch(std::vector<std::unique_ptr<Pending>>& batch) {
  // One sync per directory, however many of the batch's files went into it.
  std::map<std::string, Result<void>> directories;
  for (const auto& p : batch) {
    const std::string& path = p->write.entry.instance.relative_path;
    const std::string dir = path.substr(0, path.rfind('/'));
    if (!directories.count(dir)) directories.emplace(dir, blobs_.sync_directory_of(path));
  }
  std::vector<std::unique_ptr<Pending>> ready;
  for (auto& p : batch) {
    const std::string& path = p->write.entry.instance.relative_path;
    const auto& synced = directories.at(path.substr(0, path.rfind('/')));
    if (synced)
      ready.push_back(std::move(p));
    else
      p->done.set_value(tl::unexpected(synced.error()));
  }
  batch.swap(ready);
  if (batch.empty()) return;

  std::vector<IndexWrite> writes;
  writes.reserve(batch.size());
  for (const auto& p : batch) writes.push_back(p->write);
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
  for (const auto& p : batch) {
    auto single = index_.write_batch(std::span<const IndexWrite>(&p->write, 1));
    if (single)
      p->done.set_value(single->at(0));
    else
      p->done.set_value(tl::unexpected(single.error()));
  }
}

}  // namespace pacs
