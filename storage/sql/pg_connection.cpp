// PostgreSQL driver on libpqxx 6.4: statements are prepared once per connection and run with text
// parameters ('?' becomes $n); bytea travels in hex form.
#include <poll.h>

#include <pqxx/pqxx>

#include <array>
#include <charconv>
#include <map>

#include "storage/sql/connection.h"

namespace pacs::sql {
namespace {

constexpr pqxx::oid kByteaOid = 17;
constexpr pqxx::oid kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23;

std::string to_hex_bytea(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

// Hex digit values by character; 0 for the rest, as PostgreSQL never sends them.
constexpr std::array<unsigned char, 256> kHexValues = [] {
  std::array<unsigned char, 256> values{};
  for (int c = 0; c < 10; ++c) values['0' + c] = static_cast<unsigned char>(c);
  for (int c = 0; c < 6; ++c) {
    values['a' + c] = static_cast<unsigned char>(10 + c);
    values['A' + c] = static_cast<unsigned char>(10 + c);
  }
  return values;
}();

std::string from_hex_bytea(const char* text, std::size_t size) {
  if (size < 2 || text[0] != '\\' || text[1] != 'x') return std::string(text, size);
  // Sized once and written in place: attribute blobs of every match of a query pass here.
  std::string out((size - 2) / 2, '\0');
  const auto* digits = reinterpret_cast<const unsigned char*>(text + 2);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(kHexValues[digits[2 * i]] << 4 | kHexValues[digits[2 * i + 1]]);
  return out;
}

// An integer column's text; PostgreSQL sends plain decimal digits with an optional sign.
std::int64_t integer_of(const char* text, std::size_t size) {
  std::int64_t value = 0;
  if (std::from_chars(text, text + size, value).ec != std::errc())
    throw SqlError("PostgreSQL: not an integer: " + std::string(text, size), SqlFailure::Statement);
  return value;
}

// '?' placeholders to $1, $2, ...; the layer's SQL never has '?' inside string literals.
std::string number_placeholders(std::string_view sql) {
  std::string out;
  int n = 0;
  for (char c : sql) {
    if (c == '?') {
      out += '$' + std::to_string(++n);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

SqlFailure failure_of(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  // 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available
  if (state == "40001" || state == "40P01" || state == "55P03") return SqlFailure::Transient;
  if (state == "53100") return SqlFailure::DiskFull;  // disk_full
  // Class 57P: the server is shutting down or restarting; 08: the connection failed.
  if (state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0) return SqlFailure::ConnectionLost;
  return SqlFailure::Statement;
}

class PgConnection final : public Connection {
 public:
  explicit PgConnection(const std::string& url) try : connection_(url), work_(connection_) {
  } catch (const std::exception& e) {
    throw SqlError(std::string("cannot connect to PostgreSQL: ") + e.what(),
                   SqlFailure::ConnectionLost);
  }

  Dialect dialect() const override { return Dialect::Postgresql; }

  void execute_script(std::string_view sql) override {
    run([&] { work_.exec(std::string(sql)); });
  }

  std::vector<Row> query(std::string_view sql, std::span<const Value> params) override {
    const std::string& name = prepare(sql);
    std::vector<std::string> storage;
    storage.reserve(params.size());
    std::vector<const char*> arguments;
    arguments.reserve(params.size());
    for (const Value& v : params) {
      if (std::holds_alternative<std::monostate>(v)) {
        storage.emplace_back();
        arguments.push_back(nullptr);
        continue;
      }
      if (auto p = std::get_if<std::int64_t>(&v))
        storage.push_back(std::to_string(*p));
      else if (auto s = std::get_if<std::string>(&v))
        storage.push_back(*s);
      else
        storage.push_back(to_hex_bytea(std::get<Blob>(v).bytes));
      arguments.push_back(nullptr);
    }
    for (std::size_t i = 0; i < params.size(); ++i)
      if (!std::holds_alternative<std::monostate>(params[i])) arguments[i] = storage[i].c_str();

    pqxx::result result;
    run([&] { result = work_.exec_prepared(name, pqxx::prepare::make_dynamic_params(arguments)); });
    std::vector<Row> rows;
    rows.reserve(result.size());
    const auto columns = static_cast<std::size_t>(result.columns());
    for (const auto& r : result) {
      std::vector<Value> values;
      values.reserve(columns);
      for (std::size_t c = 0; c < columns; ++c) {
        const pqxx::field f = r[static_cast<pqxx::row::size_type>(c)];
        if (f.is_null()) {
          values.emplace_back(std::monostate{});
          continue;
        }
        const pqxx::oid type = result.column_type(static_cast<pqxx::row::size_type>(c));
        if (type == kByteaOid)
          values.emplace_back(Blob{from_hex_bytea(f.c_str(), f.size())});
        else if (type == kInt8Oid || type == kInt4Oid || type == kInt2Oid)
          values.emplace_back(integer_of(f.c_str(), f.size()));
        else
          values.emplace_back(std::string(f.c_str(), f.size()));
      }
      rows.emplace_back(std::move(values));
    }
    return rows;
  }

  // An idle connection has nothing to read: data or end-of-file means the server spoke (the
  // notice it sends as it shuts down or restarts) or hung up. A cheap poll, no round trip.
  bool usable() override {
    if (!connection_.is_open()) return false;
    pollfd idle{connection_.sock(), POLLIN, 0};
    return ::poll(&idle, 1, 0) == 0;
  }

  void begin() override { execute_script("BEGIN"); }
  void commit() override { execute_script("COMMIT"); }
  void rollback() override { execute_script("ROLLBACK"); }

 private:
  template <typename F>
  void run(F&& f) {
    try {
      f();
    } catch (const pqxx::sql_error& e) {
      throw SqlError(std::string("PostgreSQL: ") + e.what(), failure_of(e));
    } catch (const pqxx::broken_connection& e) {
      throw SqlError(std::string("PostgreSQL connection lost: ") + e.what(),
                     SqlFailure::ConnectionLost);
    } catch (const std::exception& e) {
      throw SqlError(std::string("PostgreSQL: ") + e.what(), SqlFailure::Statement);
    }
  }

  const std::string& prepare(std::string_view sql) {
    auto key = std::string(sql);
    if (auto it = prepared_.find(key); it != prepared_.end()) return it->second;
    std::string name = "s" + std::to_string(prepared_.size());
    run([&] { connection_.prepare(name, number_placeholders(sql)); });
    return prepared_.emplace(std::move(key), std::move(name)).first->second;
  }

  pqxx::connection connection_;
  // Autocommit by default; begin()/commit() issue the statements themselves so that the SQL layer
  // decides where transactions start and end, as it does for SQLite.
  pqxx::nontransaction work_;
  std::map<std::string, std::string, std::less<>> prepared_;
};

}  // namespace

std::unique_ptr<Connection> open_postgresql(const std::string& url) {
  return std::make_unique<PgConnection>(url);
}

}  // namespace pacs::sql
