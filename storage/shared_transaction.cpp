#include "storage/shared_transaction.h"

#include <algorithm>

namespace pacs {

Result<void> SharedTransaction::run(Write write) {
  Pending mine{std::move(write), std::nullopt};
  std::unique_lock lock(mu_);
  waiting_.push_back(&mine);
  while (!mine.outcome) {
    if (applying_) {
      // Another caller is applying a batch: ours goes with the next one, unless it is in this one.
      finished_.wait(lock);
      continue;
    }
    applying_ = true;
    const auto taken = static_cast<std::ptrdiff_t>(std::min(waiting_.size(), kMaxBatch));
    std::vector<Pending*> batch(waiting_.begin(), waiting_.begin() + taken);
    waiting_.erase(waiting_.begin(), waiting_.begin() + taken);
    lock.unlock();
    std::vector<Result<void>> outcomes;
    try {
      outcomes = apply(batch);
    } catch (const std::exception& e) {
      outcomes.assign(batch.size(), fail(ErrorCode::IndexUnavailable, e.what()));
    } catch (...) {
      // Whatever it was, the callers waiting on this batch must hear of it.
      outcomes.assign(batch.size(), fail(ErrorCode::IndexUnavailable, "the transaction failed"));
    }
    lock.lock();
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->outcome = std::move(outcomes[i]);
    applying_ = false;
    finished_.notify_all();
  }
  return std::move(*mine.outcome);
}

std::vector<Result<void>> SharedTransaction::apply(const std::vector<Pending*>& batch) {
  if (batch.size() == 1) {
    // Alone: a transaction of its own, with no savepoint to set and release.
    return {executor_([&](sql::Connection& c) -> Result<void> {
      sql::Transaction tx(c);
      auto outcome = batch.front()->write(c);
      if (outcome) tx.commit();
      return outcome;
    })};
  }
  std::vector<Result<void>> outcomes(batch.size());
  auto committed = executor_([&](sql::Connection& c) -> Result<void> {
    sql::Transaction tx(c);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      c.execute_script("SAVEPOINT shared_write");
      try {
        outcomes[i] = batch[i]->write(c);
      } catch (const sql::SqlError& e) {
        // The database refused one statement of this write. A failure of the database itself
        // (full, gone, busy) fails the whole batch: the executor turns it into an Error.
        if (e.kind() != sql::SqlFailure::Statement) throw;
        outcomes[i] = fail(ErrorCode::IndexUnavailable, e.what());
      } catch (const std::exception& e) {
        outcomes[i] = fail(ErrorCode::IndexUnavailable, e.what());
      }
      c.execute_script(outcomes[i] ? "RELEASE shared_write"
                                   : "ROLLBACK TO shared_write; RELEASE shared_write");
    }
    tx.commit();
    return {};
  });
  // Nothing of the batch was committed: every write gets the reason.
  if (!committed) std::fill(outcomes.begin(), outcomes.end(), committed);
  return outcomes;
}

}  // namespace pacs
