// A real pacsnode process for integration tests: temp data dir, free loopback port, either index.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/index.h"
#include "tests/support/process.h"

namespace pacs::testing {

// A temp folder removed with everything in it when this goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The index URL a test runs on: "sqlite", or a fresh database on the test PostgreSQL server
// (PACSNODE_TEST_PG_URL, set by scripts/test.sh). Without that server the PostgreSQL cases skip,
// except in CI (CI=true), where they fail: they must never be skipped silently there.
std::optional<std::string> index_url_for(const std::string& backend);

#define PACS_REQUIRE_BACKEND(backend, url_out)                                           \
  do {                                                                                   \
    auto pacs_url = ::pacs::testing::index_url_for(backend);                             \
    if (!pacs_url) {                                                                     \
      if (std::getenv("CI")) FAIL() << "PACSNODE_TEST_PG_URL is not set in CI";          \
      GTEST_SKIP() << "no PostgreSQL for tests (run scripts/test.sh, which starts one)"; \
    }                                                                                    \
    url_out = *pacs_url;                                                                 \
  } while (0)

class TestNode {
 public:
  struct Options {
    std::string db = "sqlite";
    std::vector<std::string> extra_flags;
    // Empty: a data directory of the node's own; else one several nodes share.
    std::filesystem::path data_dir = {};
  };
  explicit TestNode(Options options);
  ~TestNode();

  // Starts the node and returns once its DIMSE port accepts connections.
  void start();
  int stop();  // SIGTERM; returns the exit code
  void kill_hard();
  bool running() { return process_ && process_->running(); }

  int dimse_port() const { return dimse_port_; }
  int http_port() const { return http_port_; }
  int mllp_port() const { return mllp_port_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // The node's data directory: a folder of its own (the node's log is beside it), so that a test
  // can mount a small filesystem there.
  const std::filesystem::path& data_dir() const { return data_dir_; }
  const std::string& db() const { return options_.db; }
  std::string log() const;
  // A second connection to the node's index, for checking what it holds.
  std::unique_ptr<Index> open_index() const;
  // How many store-and-forward queue items are in a state, read through open_index(); -1 when
  // the index cannot say.
  std::int64_t queue_count(const std::string& state) const;
  // `pacsnode fsck` (with --repair if asked) on the node's data directory and index.
  CommandResult fsck(bool repair = false) const;

 private:
  Options options_;
  TempDir data_;
  std::filesystem::path data_dir_ =
      options_.data_dir.empty() ? data_.path() / "data" : options_.data_dir;
  int dimse_port_ = 0, http_port_ = 0, mllp_port_ = 0;
  std::unique_ptr<Background> process_;
  bool ended_by_test_ = false;  // stop() or kill_hard(): an end the test asked for
};

std::string pacsnode_binary();
std::string gencorpus_binary();
std::string raw_store_binary();

}  // namespace pacs::testing
