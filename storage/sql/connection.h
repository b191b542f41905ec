// One SQL layer for both index backends: a connection that runs parameterised statements.
// Statements use '?' placeholders; each driver rewrites them into its own syntax.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pacs::sql {

struct Blob {
  std::string bytes;
};

using Value = std::variant<std::monostate, std::int64_t, std::string, Blob>;

class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  bool is_null(std::size_t i) const {
    return std::holds_alternative<std::monostate>(values_.at(i));
  }
  std::int64_t integer(std::size_t i) const;
  std::string text(std::size_t i) const;  // "" for NULL
  std::string blob(std::size_t i) const;  // "" for NULL
  std::size_t size() const { return values_.size(); }

 private:
  std::vector<Value> values_;
};

enum class Dialect { Sqlite, Postgresql };

// What kind of failure a driver reported, for what the caller can do about it.
enum class SqlFailure {
  Statement,       // the statement or the database failed: the connection may be unusable
  Transient,       // serialization failure, deadlock, busy: the whole transaction may be retried
  DiskFull,        // the database's disk is full: nothing was written; may pass when space returns
  ConnectionLost,  // the server went away (restart, network): a new connection may work
};

// Thrown by drivers; the index turns it into an Error value at its boundary.
class SqlError : public std::runtime_error {
 public:
  SqlError(std::string message, SqlFailure kind)
      : std::runtime_error(std::move(message)), kind_(kind) {}
  SqlFailure kind() const { return kind_; }
  bool transient() const { return kind_ == SqlFailure::Transient; }

 private:
  SqlFailure kind_;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  // Runs statements without parameters or results (schema changes); several may be separated by
  // ';'.
  virtual void execute_script(std::string_view sql) = 0;
  // Runs one statement with '?' placeholders bound to params, returning its rows.
  virtual std::vector<Row> query(std::string_view sql, std::span<const Value> params = {}) = 0;
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
  // Whether an idle connection can still be used (a server restart ends a client connection).
  virtual bool usable() { return true; }
};

// Rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& c) : connection_(c) { connection_.begin(); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Connection& connection_;
  bool done_ = false;
};

// "?, ?, ?" for n placeholders (n > 0): an IN list of n bound values.
std::string placeholders(std::size_t n);

std::unique_ptr<Connection> open_sqlite(const std::string& path);
// url is a libpq connection URI: postgresql://user@host:port/dbname
std::unique_ptr<Connection> open_postgresql(const std::string& url);

}  // namespace pacs::sql
