// A PostgreSQL server of a test's own (initdb into a temp dir, as the postgres user when run as
// root), for tests that stop and restart it: the suite's shared server must stay up for the
// tests running beside them.
#pragma once

#include <filesystem>
#include <string>

#include "tests/support/test_node.h"

namespace pacs::testing {

class PgServer {
 public:
  PgServer();  // initdb and start on a free loopback port; throws if that fails
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  std::string url() const;  // postgresql://pacs@127.0.0.1:PORT/postgres
  void stop();              // a fast shutdown: clients are disconnected
  void start();             // again, on the same port

 private:
  CommandResult as_owner(std::vector<std::string> argv) const;

  TempDir dir_;
  std::string bindir_;
  int port_ = 0;
};

}  // namespace pacs::testing
