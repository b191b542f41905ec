// The SQLite driver's WAL-batching VFS: a commit reaches the log in few writes, and what every
// connection reads stays exactly what was committed, through spills, rewrites and a crash.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "storage/sql/connection.h"
#include "storage/sql/sqlite_wal_batching.h"
#include "tests/support/test_node.h"

namespace pacs::sql {
namespace {

std::int64_t count_rows(Connection& c, const std::string& where = "1=1") {
  return c.query("SELECT COUNT(*) FROM t WHERE " + where).at(0).integer(0);
}

std::string integrity(Connection& c) {
  return c.query("PRAGMA integrity_check").at(0).text(0);
}

// A 1 KB value unique to row i, so a page read from the wrong place shows.
std::string payload(int i) {
  return std::string(1000, static_cast<char>('a' + i % 26)) + std::to_string(i);
}

void insert_rows(Connection& c, int first, int count) {
  for (int i = first; i < first + count; ++i)
    c.query("INSERT INTO t (id, v) VALUES (?, ?)", std::vector<Value>{std::int64_t{i}, payload(i)});
}

class WalBatching : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_.path() / "index.sqlite").string();
    writer_ = open_sqlite(path_);
    writer_->execute_script(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v)");
  }
  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<Connection> writer_;
};

TEST_F(WalBatching, WritesACommitOfManyPagesInFewWritesAndOthersReadIt) {
  const WalBatchingCounts before = wal_batching_counts();
  Transaction tx(*writer_);
  insert_rows(*writer_, 0, 200);  // ~200 KB in the table and its index: dozens of pages
  tx.commit();
  const WalBatchingCounts after = wal_batching_counts();
  const auto gathered = after.writes_gathered - before.writes_gathered;
  const auto issued = after.writes_issued - before.writes_issued;
  EXPECT_GT(gathered, 100u);  // two per page
  // Without the VFS every write would be issued; with it, one per 120 KB of log.
  EXPECT_GE(gathered, 40 * issued) << issued << " of " << gathered << " writes issued";

  auto reader = open_sqlite(path_);
  EXPECT_EQ(count_rows(*reader), 200);
  EXPECT_EQ(count_rows(*reader, "v = '" + payload(137) + "'"), 1);
  EXPECT_EQ(integrity(*reader), "ok");
}

TEST_F(WalBatching, ATransactionLargerThanTheCacheReadsBackWhatItSpilled) {
  // A tiny page cache makes SQLite write pages to the log before the commit, read them back
  // and write them again within the same transaction.
  writer_->execute_script("PRAGMA cache_size=8");
  Transaction tx(*writer_);
  insert_rows(*writer_, 0, 3000);  // ~3 MB: more than one gathering of 1 MB
  writer_->query("UPDATE t SET v = v || 'x' WHERE id % 7 = 0");
  writer_->query("DELETE FROM t WHERE id % 11 = 0");
  tx.commit();

  auto reader = open_sqlite(path_);
  EXPECT_EQ(count_rows(*reader), 3000 - 273);               // ids 0, 11, ..., 2992 deleted
  EXPECT_EQ(count_rows(*reader, "v LIKE '%x'"), 429 - 39);  // multiples of 7 left after the delete
  EXPECT_EQ(count_rows(*reader, "v = '" + payload(2999) + "'"), 1);
  EXPECT_EQ(integrity(*reader), "ok");
}

TEST_F(WalBatching, ARolledBackTransactionLeavesNothing) {
  insert_rows(*writer_, 0, 10);
  {
    Transaction tx(*writer_);
    insert_rows(*writer_, 10, 500);
  }  // rolled back
  insert_rows(*writer_, 10, 5);
  auto reader = open_sqlite(path_);
  EXPECT_EQ(count_rows(*reader), 15);
  EXPECT_EQ(integrity(*reader), "ok");
}

TEST_F(WalBatching, WhatARolledBackTransactionSpilledNeverOverwritesAnotherConnectionsCommit) {
  // The first connection's transaction spills pages to the log and rolls back; the second then
  // commits into the same part of the log. Whatever the first gathered must not land on top of
  // it when the first touches the log again.
  auto other = open_sqlite(path_);
  writer_->execute_script("PRAGMA cache_size=8");
  {
    Transaction tx(*writer_);
    insert_rows(*writer_, 100000, 40);  // spills, and stays far under what is gathered at most
  }                                     // rolled back
  {
    Transaction tx(*other);
    insert_rows(*other, 0, 300);
    tx.commit();
  }
  EXPECT_EQ(count_rows(*writer_), 300);  // the first connection reads the log again
  {
    Transaction tx(*writer_);
    insert_rows(*writer_, 300, 1);
    tx.commit();
  }
  auto reader = open_sqlite(path_);
  EXPECT_EQ(count_rows(*reader), 301);
  EXPECT_EQ(count_rows(*reader, "v = '" + payload(299) + "'"), 1);
  EXPECT_EQ(integrity(*reader), "ok");
}

TEST_F(WalBatching, EveryCommitSurvivesAProcessThatDiesWithoutClosing) {
  writer_.reset();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto c = open_sqlite(path_);
    for (int batch = 0; batch < 20; ++batch) {
      Transaction tx(*c);
      insert_rows(*c, batch * 50, 50);
      tx.commit();
    }
    // An open transaction with spilled pages dies with the process: none of it may show.
    c->execute_script("PRAGMA cache_size=8");
    c->begin();
    insert_rows(*c, 100000, 1000);
    _exit(0);  // no close, no checkpoint: the next open recovers from the log
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  auto reader = open_sqlite(path_);
  EXPECT_EQ(count_rows(*reader), 1000);
  EXPECT_EQ(count_rows(*reader, "id >= 100000"), 0);
  EXPECT_EQ(integrity(*reader), "ok");
}

}  // namespace
}  // namespace pacs::sql
