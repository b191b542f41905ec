#include "tests/support/pg_server.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

namespace pacs::testing {
namespace fs = std::filesystem;
namespace {

// PACSNODE_PG_BINDIR, else the newest /usr/lib/postgresql/*/bin (as scripts/lib/pg.sh looks).
std::string find_bindir() {
  if (const char* dir = std::getenv("PACSNODE_PG_BINDIR"); dir && *dir) return dir;
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& version : fs::directory_iterator("/usr/lib/postgresql", ec))
    if (fs::exists(version.path() / "bin" / "pg_ctl")) found.push_back(version.path() / "bin");
  if (found.empty()) throw std::runtime_error("no PostgreSQL server binaries (pg_ctl) found");
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
    return std::stoi(a.parent_path().filename().string()) <
           std::stoi(b.parent_path().filename().string());
  });
  return found.back().string();
}

}  // namespace

CommandResult PgServer::as_owner(std::vector<std::string> argv) const {
  // initdb refuses root: the server runs as postgres, from a folder it may read.
  if (::geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  return run(argv, std::chrono::seconds(120));
}

PgServer::PgServer() : bindir_(find_bindir()) {
  fs::permissions(dir_.path(), fs::perms::all & ~fs::perms::others_write & ~fs::perms::group_write);
  if (::geteuid() == 0) run({"chown", "postgres:", dir_.path().string()});
  const auto init = as_owner({bindir_ + "/initdb", "-D", (dir_.path() / "data").string(), "-A",
                              "trust", "-U", "pacs", "-E", "UTF8", "--no-locale"});
  if (init.exit_code != 0) throw std::runtime_error("initdb failed: " + init.output);
  port_ = free_port();
  start();
}

PgServer::~PgServer() {
  as_owner({bindir_ + "/pg_ctl", "stop", "-D", (dir_.path() / "data").string(), "-m", "immediate"});
}

std::string PgServer::url() const {
  return "postgresql://pacs@127.0.0.1:" + std::to_string(port_) + "/postgres";
}

void PgServer::start() {
  const auto started =
      as_owner({bindir_ + "/pg_ctl", "start", "-W", "-D", (dir_.path() / "data").string(), "-l",
                (dir_.path() / "server.log").string(), "-o",
                "-p " + std::to_string(port_) + " -k " + dir_.path().string() +
                    " -c listen_addresses=127.0.0.1"});
  if (started.exit_code != 0) throw std::runtime_error("pg_ctl start failed: " + started.output);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (run({bindir_ + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", std::to_string(port_)})
            .exit_code == 0)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("PostgreSQL did not come up on port " + std::to_string(port_));
}

void PgServer::stop() {
  const auto stopped = as_owner({bindir_ + "/pg_ctl", "stop", "-D", (dir_.path() / "data").string(),
                                 "-m", "fast", "-t", "30"});
  if (stopped.exit_code != 0) throw std::runtime_error("pg_ctl stop failed: " + stopped.output);
}

}  // namespace pacs::testing
