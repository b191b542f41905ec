// Writes of several callers in one transaction, each in a savepoint of its own. SQLite has one
// writer at a time and a synced commit per transaction: HL7 messages arriving on eight
// connections would otherwise queue on its lock, each paying its own sync, and be slower together
// than one connection alone. Here the caller that finds no transaction running applies its own
// write and every write that arrived meanwhile, commits them with one sync, and hands each caller
// its own outcome: a write that fails is rolled back to its savepoint, its neighbours are kept. A
// lone caller runs its write on its own thread at once, with no hand-off.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "storage/model/result.h"
#include "storage/sql/connection.h"

namespace pacs {

class SharedTransaction {
 public:
  // One caller's write: statements on the connection, no transaction of its own. An error it
  // returns, or a statement of it that fails, undoes its statements and no one else's.
  using Write = std::function<Result<void>(sql::Connection&)>;
  // Runs a batch in one transaction on a connection of the index, turning driver failures into
  // Error values (the index's guarded()).
  using Executor = std::function<Result<void>(const Write& batch)>;

  explicit SharedTransaction(Executor executor) : executor_(std::move(executor)) {}

  // Returns once the write is committed (or has failed); several run() may share a commit.
  Result<void> run(Write write);

 private:
  struct Pending {
    Write write;
    std::optional<Result<void>> outcome;  // set under mu_
  };

  std::vector<Result<void>> apply(const std::vector<Pending*>& batch);

  // Enough to take what eight connections bring, small enough that no one waits long.
  static constexpr std::size_t kMaxBatch = 64;
  Executor executor_;
  std::mutex mu_;
  std::condition_variable finished_;
  std::vector<Pending*> waiting_;  // guarded by mu_
  bool applying_ = false;          // guarded by mu_
};

}  // namespace pacs
