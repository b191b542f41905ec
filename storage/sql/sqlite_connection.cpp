// SQLite driver: WAL journal, full sync on commit (an acknowledged instance must survive a power
// cut), prepared statements cached by their SQL text.
#include <sqlite3.h>

#include <algorithm>
#include <map>

#include "storage/sql/connection.h"
#include "storage/sql/sqlite_wal_batching.h"

namespace pacs::sql {
namespace {

SqlFailure failure_of(int code) {
  const int primary = code & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return SqlFailure::Transient;
  if (primary == SQLITE_FULL) return SqlFailure::DiskFull;
  return SqlFailure::Statement;
}

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(const std::string& path) {
    const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   wal_batching_vfs_name());
    if (rc != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw SqlError("cannot open SQLite index " + path + ": " + message, failure_of(rc));
    }
    sqlite3_busy_timeout(db_, 10000);
    // 1 KB pages for a new index (an existing one keeps its size): a commit writes one page of
    // each B-tree it touches, with a few small rows in it; an HL7 order touches about twenty. With
    // 4 KB pages an order put 88 KB in the log and its sync; with 1 KB, 22 KB: 1,400-1,500 orders/s
    // on one connection became 1,800-1,900 (docs/benchmarks.md).
    execute_script("PRAGMA page_size=1024");
    execute_script(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
        "PRAGMA temp_store=MEMORY; PRAGMA case_sensitive_like=ON;");
    // Checkpoint at ~4 MB of log whatever the page size (SQLite's default is 1,000 pages), so
    // small pages do not mean four times as many checkpoints, each with its own syncs.
    const std::int64_t page_size = query("PRAGMA page_size", {}).at(0).integer(0);
    execute_script("PRAGMA wal_autocheckpoint=" +
                   std::to_string(std::max<std::int64_t>(1000, (4 << 20) / page_size)));
  }

  ~SqliteConnection() override {
    for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
    sqlite3_close(db_);
  }

  Dialect dialect() const override { return Dialect::Sqlite; }

  void execute_script(std::string_view sql) override {
    // One statement (no ';'), as BEGIN, COMMIT and SAVEPOINT are on every write: through the
    // statement cache, not parsed again each time.
    if (sql.find(';') == std::string_view::npos) {
      sqlite3_stmt* statement = prepare(sql);
      int rc = sqlite3_step(statement);
      while (rc == SQLITE_ROW) rc = sqlite3_step(statement);  // a PRAGMA's answer, if any
      if (rc != SQLITE_DONE) {
        std::string message = sqlite3_errmsg(db_);
        sqlite3_reset(statement);
        throw SqlError("SQLite: " + message, failure_of(rc));
      }
      sqlite3_reset(statement);
      return;
    }
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
      std::string text = message ? message : sqlite3_errstr(rc);
      sqlite3_free(message);
      throw SqlError("SQLite: " + text, failure_of(rc));
    }
  }

  std::vector<Row> query(std::string_view sql, std::span<const Value> params) override {
    sqlite3_stmt* statement = prepare(sql);
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    for (std::size_t i = 0; i < params.size(); ++i)
      bind(statement, static_cast<int>(i) + 1, params[i]);
    std::vector<Row> rows;
    for (;;) {
      const int rc = sqlite3_step(statement);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        std::string message = sqlite3_errmsg(db_);
        sqlite3_reset(statement);
        throw SqlError("SQLite: " + message, failure_of(rc));
      }
      rows.push_back(read_row(statement));
    }
    sqlite3_reset(statement);
    return rows;
  }

  void begin() override { execute_script("BEGIN IMMEDIATE"); }
  void commit() override { execute_script("COMMIT"); }
  void rollback() override {
    if (!sqlite3_get_autocommit(db_)) execute_script("ROLLBACK");
  }

 private:
  sqlite3_stmt* prepare(std::string_view sql) {
    if (auto it = statements_.find(sql); it != statements_.end()) return it->second;
    auto key = std::string(sql);
    sqlite3_stmt* statement = nullptr;
    const int rc =
        sqlite3_prepare_v2(db_, key.c_str(), static_cast<int>(key.size()), &statement, nullptr);
    if (rc != SQLITE_OK)
      throw SqlError("SQLite prepare: " + std::string(sqlite3_errmsg(db_)), SqlFailure::Statement);
    statements_.emplace(std::move(key), statement);
    return statement;
  }

  static void bind(sqlite3_stmt* statement, int index, const Value& value) {
    if (auto p = std::get_if<std::int64_t>(&value)) {
      sqlite3_bind_int64(statement, index, *p);
    } else if (auto s = std::get_if<std::string>(&value)) {
      sqlite3_bind_text(statement, index, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
    } else if (auto b = std::get_if<Blob>(&value)) {
      sqlite3_bind_blob(statement, index, b->bytes.data(), static_cast<int>(b->bytes.size()),
                        SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(statement, index);
    }
  }

  static Row read_row(sqlite3_stmt* statement) {
    const int columns = sqlite3_column_count(statement);
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(statement, c)) {
        case SQLITE_INTEGER:
          values.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(statement, c)));
          break;
        case SQLITE_NULL:
          values.emplace_back(std::monostate{});
          break;
        case SQLITE_BLOB: {
          auto data = static_cast<const char*>(sqlite3_column_blob(statement, c));
          values.emplace_back(Blob{std::string(
              data ? data : "", static_cast<std::size_t>(sqlite3_column_bytes(statement, c)))});
          break;
        }
        default: {
          auto data = reinterpret_cast<const char*>(sqlite3_column_text(statement, c));
          values.emplace_back(std::string(
              data ? data : "", static_cast<std::size_t>(sqlite3_column_bytes(statement, c))));
        }
      }
    }
    return Row(std::move(values));
  }

  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::string& path) {
  return std::make_unique<SqliteConnection>(path);
}

}  // namespace pacs::sql
