#include "tests/support/test_node.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "storage/sql/connection.h"

namespace pacs::testing {
namespace fs = std::filesystem;

std::string pacsnode_binary() {
  return PACSNODE_BINARY;
}
std::string gencorpus_binary() {
  return GENCORPUS_BINARY;
}
std::string raw_store_binary() {
  return RAW_STORE_BINARY;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "pacsnode-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::optional<std::string> index_url_for(const std::string& backend) {
  if (backend == "sqlite") return "sqlite";
  const char* base = std::getenv("PACSNODE_TEST_PG_URL");
  if (!base || !*base) return std::nullopt;
  // One database per test, so tests never see each other's rows.
  static std::atomic<int> counter{0};
  std::random_device rd;
  const std::string name = "pacs_t" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
                           "_" + std::to_string(rd() % 100000);
  sql::open_postgresql(base)->execute_script("CREATE DATABASE " + name);
  std::string url = base;
  return url.substr(0, url.rfind('/') + 1) + name;
}

TestNode::TestNode(Options options) : options_(std::move(options)) {
  fs::create_directories(data_dir_);
}

TestNode::~TestNode() {
  // A node that ended by itself while a test talked to it shows up in the test only as refused
  // connections; say so here, with the end of its log, before the log goes with the temp dir.
  if (process_ && !ended_by_test_ && !process_->running()) {
    const std::string text = log();
    constexpr std::size_t kTail = 4000;
    std::fprintf(stderr,
                 "pacsnode (DIMSE port %d) ended by itself during the test; its log%s:\n%s\n",
                 dimse_port_, text.size() > kTail ? " (end)" : "",
                 text.substr(text.size() > kTail ? text.size() - kTail : 0).c_str());
  }
  if (process_) process_->stop();
}

void TestNode::start() {
  // The port is free when chosen but may be taken before the node binds it: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    dimse_port_ = free_port();
    http_port_ = free_port();
    mllp_port_ = free_port();
    std::vector<std::string> argv = {pacsnode_binary(),
                                     "serve",
                                     "--data-dir",
                                     data_dir_.string(),
                                     "--db",
                                     options_.db,
                                     "--dimse-port",
                                     std::to_string(dimse_port_),
                                     "--http-port",
                                     std::to_string(http_port_),
                                     "--mllp-port",
                                     std::to_string(mllp_port_),
                                     "--log-level",
                                     "debug"};
    argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
    process_ = std::make_unique<Background>(argv, (data_.path() / "node.log").string());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline && process_->running()) {
      // Something accepts on the port; if it is not this node (which lost the port to another
      // process between free_port() and its bind), the node exits at once with an error.
      if (port_accepts(dimse_port_)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (process_->running()) return;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    process_->kill_hard();
  }
  throw std::runtime_error("pacsnode did not start; log:\n" + log());
}

int TestNode::stop() {
  ended_by_test_ = true;
  return process_ ? process_->stop() : 0;
}

void TestNode::kill_hard() {
  ended_by_test_ = true;
  if (process_) process_->kill_hard();
}

std::string TestNode::log() const {
  std::ifstream in(data_.path() / "node.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unique_ptr<Index> TestNode::open_index() const {
  auto index = Index::open(options_.db, data_dir_);
  if (!index) throw std::runtime_error(index.error().message);
  return std::move(*index);
}

std::int64_t TestNode::queue_count(const std::string& state) const {
  auto counts = open_index()->queue_counts();
  return counts ? (*counts)[state] : -1;
}

CommandResult TestNode::fsck(bool repair) const {
  std::vector<std::string> argv = {pacsnode_binary(),  "fsck", "--data-dir",
                                   data_dir_.string(), "--db", options_.db};
  if (repair) argv.push_back("--repair");
  return run(argv);
}

}  // namespace pacs::testing
