// The driver-independent parts of the SQL layer.
#include "storage/sql/connection.h"

namespace pacs::sql {

std::int64_t Row::integer(std::size_t i) const {
  const Value& v = values_.at(i);
  if (auto p = std::get_if<std::int64_t>(&v)) return *p;
  if (auto s = std::get_if<std::string>(&v)) return s->empty() ? 0 : std::stoll(*s);
  return 0;
}

std::string Row::text(std::size_t i) const {
  const Value& v = values_.at(i);
  if (auto s = std::get_if<std::string>(&v)) return *s;
  if (auto p = std::get_if<std::int64_t>(&v)) return std::to_string(*p);
  if (auto b = std::get_if<Blob>(&v)) return b->bytes;
  return {};
}

std::string Row::blob(std::size_t i) const {
  return text(i);
}

Transaction::~Transaction() {
  if (done_) return;
  try {
    connection_.rollback();
  } catch (const SqlError&) {
    // The connection is already broken; the server discards the transaction on its own.
  }
}

void Transaction::commit() {
  connection_.commit();
  done_ = true;
}

std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

}  // namespace pacs::sql
