// Writes of concurrent callers share SQLite transactions, yet each keeps its own outcome: a write
// that fails leaves nothing behind, and its neighbours in the same transaction are kept.
#include "storage/shared_transaction.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "tests/support/test_node.h"

namespace pacs {
namespace {

class SharedTransactionTest : public ::testing::Test {
 protected:
  SharedTransactionTest() : connection_(sql::open_sqlite((dir_.path() / "t.sqlite").string())) {
    connection_->execute_script("CREATE TABLE rows (writer INTEGER, n INTEGER, PRIMARY KEY (n))");
  }

  // What the index's guarded() does, on one connection; slow enough that writers queue up.
  SharedTransaction::Executor executor() {
    return [this](const SharedTransaction::Write& batch) -> Result<void> {
      ++transactions_;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      writes_in_transaction_ = 0;
      try {
        auto outcome = batch(*connection_);
        largest_batch_ = std::max(largest_batch_.load(), writes_in_transaction_.load());
        return outcome;
      } catch (const sql::SqlError& e) {
        return fail(ErrorCode::IndexUnavailable, e.what());
      }
    };
  }

  std::int64_t count(std::string_view where) {
    return connection_->query("SELECT COUNT(*) FROM rows WHERE " + std::string(where))
        .at(0)
        .integer(0);
  }

  testing::TempDir dir_;
  std::unique_ptr<sql::Connection> connection_;
  std::atomic<int> transactions_{0};
  std::atomic<int> writes_in_transaction_{0};  // of the one running (one at a time)
  std::atomic<int> largest_batch_{0};
};

TEST_F(SharedTransactionTest, EachWriteKeepsItsOwnOutcomeInASharedCommit) {
  SharedTransaction shared(executor());
  constexpr int kWriters = 8;
  constexpr int kWritesEach = 30;
  // Write n inserts row n. Every third one then fails in its own way: it returns an error, or a
  // statement of it violates the primary key (row 0 exists from the start).
  connection_->execute_script("INSERT INTO rows VALUES (-1, 0)");
  std::atomic<int> succeeded{0}, refused{0}, violated{0};
  std::vector<std::jthread> writers;
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; i < kWritesEach; ++i) {
        const std::int64_t n = 1 + w * kWritesEach + i;
        auto outcome = shared.run([&](sql::Connection& c) -> Result<void> {
          ++writes_in_transaction_;
          const sql::Value row[] = {std::int64_t{w}, n};
          c.query("INSERT INTO rows VALUES (?, ?)", row);
          if (n % 3 == 1) return fail(ErrorCode::NotFound, "refused after its insert");
          if (n % 3 == 2) {
            const sql::Value clash[] = {std::int64_t{w}, std::int64_t{0}};
            c.query("INSERT INTO rows VALUES (?, ?)", clash);
          }
          return {};
        });
        if (outcome) {
          ++succeeded;
        } else if (outcome.error().code == ErrorCode::NotFound) {
          ++refused;
        } else {
          EXPECT_EQ(outcome.error().code, ErrorCode::IndexUnavailable);
          ++violated;
        }
      }
    });
  writers.clear();  // joins

  constexpr int kWrites = kWriters * kWritesEach;
  EXPECT_EQ(succeeded, kWrites / 3);
  EXPECT_EQ(refused, kWrites / 3);
  EXPECT_EQ(violated, kWrites / 3);
  EXPECT_EQ(count("n % 3 = 0 AND n > 0"), kWrites / 3);  // every successful write is there
  EXPECT_EQ(count("n % 3 <> 0"), 0);                     // nothing of a failed one
  EXPECT_EQ(count("n = 0"), 1);
  // They did share: writers that queue behind a slow commit go into the next one together (how
  // many depends on how fast their threads come back, so the bounds are loose).
  EXPECT_LT(transactions_, kWrites / 2) << transactions_ << " transactions";
  EXPECT_GE(largest_batch_, 3) << transactions_ << " transactions";
}

TEST_F(SharedTransactionTest, ALoneWriterRunsOnItsOwnThreadAndAFailedTransactionReportsWhy) {
  const auto caller = std::this_thread::get_id();
  bool refuse_commit = false;
  SharedTransaction shared([&](const SharedTransaction::Write& batch) -> Result<void> {
    if (refuse_commit) return fail(ErrorCode::StorageFull, "the disk is full");
    return batch(*connection_);
  });
  std::thread::id ran_on;
  EXPECT_TRUE(shared.run([&](sql::Connection& c) -> Result<void> {
    ran_on = std::this_thread::get_id();
    c.execute_script("INSERT INTO rows VALUES (1, 1)");
    return {};
  }));
  EXPECT_EQ(ran_on, caller);
  EXPECT_EQ(count("n = 1"), 1);

  refuse_commit = true;
  auto outcome = shared.run([](sql::Connection&) -> Result<void> { return {}; });
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::StorageFull);
}

}  // namespace
}  // namespace pacs
