// SIGKILL in the middle of traffic: every acknowledged instance and order survives exactly once,
// index and files agree (and `pacsnode fsck` says so). One storescu run killed three times, and
// twenty kills of mixed traffic (C-STORE on three associations, STOW-RS uploads and HL7 orders at
// once, every instance routed on to a destination) after which the forwarding queue resumes.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/mllp.h"
#include "tests/support/storescp.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

// storescu -v prints "Sending file: PATH" and then the response for it.
std::set<std::string> acknowledged_files(const std::string& log) {
  std::set<std::string> acked;
  std::istringstream in(log);
  std::string line, current;
  for (int lines = 0; std::getline(in, line) && lines < 1000000; ++lines) {
    if (auto at = line.find("Sending file: "); at != std::string::npos)
      current = line.substr(at + 14);
    if (line.find("Received Store Response (Success)") != std::string::npos) acked.insert(current);
  }
  return acked;
}

std::size_t count_acks(const fs::path& log) {
  std::ifstream in(log);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find("Received Store Response (Success)") != std::string::npos) ++n;
  return n;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The index and the object folder describe the same set of files, every one readable.
void expect_index_and_files_agree(const TestNode& node) {
  auto rows = node.open_index()->all_instances();
  ASSERT_TRUE(rows);
  std::set<std::string> indexed, on_disk;
  for (const auto& row : *rows) {
    indexed.insert(row.relative_path);
    const auto path = node.data_dir() / row.relative_path;
    ASSERT_TRUE(fs::exists(path)) << row.relative_path;
    EXPECT_EQ(fs::file_size(path), row.size_bytes) << row.relative_path;
    DcmFileFormat ff;
    EXPECT_TRUE(ff.loadFile(path.c_str()).good()) << row.relative_path;
  }
  for (const auto& file : testing::files_below(node.data_dir() / "objects"))
    on_disk.insert(fs::relative(file, node.data_dir()).string());
  EXPECT_EQ(indexed, on_disk);
  EXPECT_EQ(indexed.size(), rows->size()) << "two rows share a file";
}

class CrashTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CrashTest, KilledMidRunLosesNoAcknowledgedInstance) {
  std::string url;
  PACS_REQUIRE_BACKEND(GetParam(), url);
  testing::TempDir corpus;
  const auto data = corpus.path() / "data";
  const auto files =
      testing::generate_corpus(data, {"--patients", "1", "--studies", "1", "--series", "2",
                                      "--instances", "150", "--rows", "256", "--columns", "256"});
  TestNode node({.db = url, .extra_flags = {}});
  std::set<std::string> acked_ever;
  // Three kills in a row, each at a different point of a fresh storescu run over the corpus.
  for (std::size_t round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    node.start();
    const auto log = corpus.path() / ("storescu" + std::to_string(round) + ".log");
    testing::Background sender({"storescu", "-v", "-aec", "PACSNODE", "+sd", "+r", "127.0.0.1",
                                std::to_string(node.dimse_port()), data.string()},
                               log.string(), {"TCP_NODELAY=1"});
    const std::size_t kill_after = 20 + 30 * round;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (count_acks(log) < kill_after && sender.running() &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    node.kill_hard();
    sender.stop();
    const auto acked = acknowledged_files(read_text(log));
    ASSERT_GE(acked.size(), kill_after) << read_text(log) << node.log();
    acked_ever.insert(acked.begin(), acked.end());

    node.start();  // recovers from the unclean stop
    auto index = node.open_index();
    for (const auto& file : acked_ever) {
      const auto sop = testing::identity_of(file).sop_instance_uid;
      auto row = index->find_instance(sop);
      ASSERT_TRUE(row && *row) << "acknowledged " << sop << " is missing after the crash";
      EXPECT_EQ(testing::dataset_bytes(node.data_dir() / (*row)->relative_path),
                testing::dataset_bytes(file));
    }
    expect_index_and_files_agree(node);
    node.stop();
  }
  // After all that, a full run completes and the corpus is whole.
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {data.string()}).exit_code, 0);
  EXPECT_EQ(node.open_index()->counts()->instances, 300);
  expect_index_and_files_agree(node);
}

std::size_t files_of_study(const TestNode& node, const std::string& study) {
  const auto dir = node.data_dir() / "objects" / study;
  return fs::exists(dir) ? testing::files_below(dir).size() : 0;
}

// SIGKILL while a large study is being deleted: after the restart the study is either whole (the
// removal had not committed) or gone from the index with every one of its files purged, never
// half; the other studies, the counts and fsck are untouched. Round one kills as the files start
// to go (rows gone, files queued for purging), round two right after the request is sent.
TEST_P(CrashTest, KilledInTheMiddleOfALargeDeleteLeavesNoHalfState) {
  std::string url;
  PACS_REQUIRE_BACKEND(GetParam(), url);
  testing::TempDir corpus;
  const auto data = corpus.path() / "data";
  const auto files =
      testing::generate_corpus(data, {"--patients", "1", "--studies", "3", "--series", "2",
                                      "--instances", "300", "--rows", "16", "--columns", "16"});
  std::set<std::string> studies;
  for (const auto& f : files) studies.insert(testing::value_of(f, DCM_StudyInstanceUID));
  ASSERT_EQ(studies.size(), 3u);
  TestNode node({.db = url, .extra_flags = {}});
  node.start();
  ASSERT_EQ(testing::storescu(node.dimse_port(), {data.string()}).exit_code, 0) << node.log();
  std::int64_t expected_instances = 1800;
  int round = 0;
  for (const std::string& study : studies) {
    if (round == 2) break;  // the third study stays, untouched
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_EQ(files_of_study(node, study), 600u);
    testing::Background deleter(
        {"curl", "-s", "-X", "DELETE", "--max-time", "60",
         "http://127.0.0.1:" + std::to_string(node.http_port()) + "/api/admin/studies/" + study},
        (corpus.path() / ("curl" + std::to_string(round) + ".log")).string());
    if (round == 0) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (files_of_study(node, study) == 600 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      ASSERT_LT(files_of_study(node, study), 600u) << "the delete never began" << node.log();
    }
    node.kill_hard();
    deleter.kill_hard();
    const std::size_t left_at_kill = files_of_study(node, study);

    node.start();  // purges what the killed node had queued
    auto summary = node.open_index()->study_summary(study);
    ASSERT_TRUE(summary);
    if (*summary) {
      // Not committed: the study is whole, every file in place.
      ASSERT_NE(round, 0) << "files went before the rows";
      EXPECT_EQ(files_of_study(node, study), 600u);
    } else {
      expected_instances -= 600;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (files_of_study(node, study) > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      EXPECT_EQ(files_of_study(node, study), 0u) << "killed with " << left_at_kill << " left";
    }
    EXPECT_EQ(node.open_index()->counts()->instances, expected_instances);
    expect_index_and_files_agree(node);
    ASSERT_EQ(node.stop(), 0);
    const auto fsck = node.fsck();
    EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
    node.start();
    ++round;
  }
}

// What the STOW-RS and HL7 clients of a round had acknowledged, collected from their threads.
struct Acknowledged {
  std::mutex mu;
  std::set<std::string> stowed_sops;  // SOP Instance UIDs answered 200
  std::set<std::string> placers;      // placer order numbers of orders answered AA
  std::atomic<int> stow_acks{0}, order_acks{0};
  std::string last_refusal;  // what the node answered when it did not store an upload
};

// How long each workload may wait for its first acknowledgement after a (re)start. The node
// recovers from the kill first; an instrumented (ASan) build running beside other tests is slow.
constexpr auto kFirstAckWait = std::chrono::seconds(120);

// Uploads the files one per STOW-RS request, from `next` on, until stop is set or the node goes
// away; a file whose upload got no answer is sent again next round (next stays on it).
void stow_until_stopped(int port, const std::vector<fs::path>& files, std::size_t& next,
                        const fs::path& scratch, const std::atomic<bool>& stop,
                        Acknowledged& acked) {
  for (int attempts = 0; next < files.size() && !stop && attempts < 100000; ++attempts) {
    const auto r = testing::stow(port, {files[next]}, scratch / "stow-body");
    if (r.status == 0) return;  // the node died under this request
    if (r.status != 200) {
      // A refusal (503 while the index is busy) is no acknowledgement: the file is sent again.
      std::lock_guard lock(acked.mu);
      acked.last_refusal = std::to_string(r.status) + " " + r.body;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    std::lock_guard lock(acked.mu);
    acked.stowed_sops.insert(testing::identity_of(files[next]).sop_instance_uid);
    ++acked.stow_acks;
    ++next;
  }
}

// Sends orders on one MLLP connection until stop is set or the node goes away. An order whose ACK
// did not come is sent again, with the same control ID, next round (as a RIS would resend it):
// `pending` holds it.
void order_until_stopped(int port, int& sequence, std::optional<testing::Order>& pending,
                         const std::atomic<bool>& stop, Acknowledged& acked) {
  std::optional<testing::MllpClient> client;
  try {
    client.emplace(port);
  } catch (const std::exception&) {
    return;
  }
  for (int sent = 0; !stop && sent < 100000; ++sent) {
    if (!pending) {
      ++sequence;
      testing::Order order;
      order.control_id = "KILL" + std::to_string(sequence);
      order.placer = "KP" + std::to_string(sequence);
      order.filler = "KF" + std::to_string(sequence);
      order.accession = "KA" + std::to_string(sequence);
      order.patient_id = "KILLPAT" + std::to_string(sequence % 7);
      pending = order;
    }
    const auto ack = client->exchange(testing::orm(*pending), kFirstAckWait);
    if (!ack) return;  // the node died: the order stays pending
    EXPECT_EQ(testing::ack_code(*ack), "AA") << *ack;
    std::lock_guard lock(acked.mu);
    acked.placers.insert(pending->placer);
    ++acked.order_acks;
    pending.reset();
  }
}

class KillTest : public ::testing::TestWithParam<const char*> {};

TEST_P(KillTest, TwentyKillsOfMixedTrafficLoseAndDuplicateNothing) {
  std::string url;
  PACS_REQUIRE_BACKEND(GetParam(), url);
  testing::TempDir corpus;
  // Three C-STORE corpora (one per association) and one for STOW-RS, each with UIDs of its own.
  std::vector<fs::path> dimse_dirs;
  std::map<std::string, std::string> sop_of;  // C-STORE file -> its SOP Instance UID
  for (int seed = 1; seed <= 3; ++seed) {
    dimse_dirs.push_back(corpus.path() / ("dimse" + std::to_string(seed)));
    for (const auto& file : testing::generate_corpus(
             dimse_dirs.back(), {"--seed", std::to_string(seed), "--studies", "1", "--series", "1",
                                 "--instances", "300", "--rows", "64", "--columns", "64"}))
      sop_of[file.string()] = testing::identity_of(file).sop_instance_uid;
  }
  const auto stow_files = testing::generate_corpus(
      corpus.path() / "stow", {"--seed", "4", "--studies", "1", "--series", "1", "--instances",
                               "300", "--rows", "64", "--columns", "64"});

  // Every instance is routed on to DEST: its queue item is committed with the instance, and the
  // forwarding cut by each kill must resume after the restart.
  testing::Storescp destination;
  TestNode node({.db = url,
                 .extra_flags = {"--peer", "DEST=127.0.0.1:" + std::to_string(destination.port()),
                                 "--route", "->DEST", "--route-retry-seconds", "0.2"}});
  std::set<std::string> acked_files, acked_sops, acked_placers;
  std::size_t stow_next = 0;
  int order_sequence = 0;
  std::optional<testing::Order> pending_order;
  std::mt19937 random(20261202);  // fixed: a failure reruns the same kill moments
  // PACSNODE_TEST_KILLS: fewer under a sanitizer (scripts/sanitize.sh), whose point is memory
  // safety on the recovery path rather than many kill moments.
  const char* kills_env = std::getenv("PACSNODE_TEST_KILLS");
  const int kills = kills_env ? std::clamp(std::atoi(kills_env), 1, 100) : 20;
  for (int round = 0; round < kills; ++round) {
    SCOPED_TRACE("kill " + std::to_string(round + 1));
    node.start();
    std::vector<std::unique_ptr<testing::Background>> senders;
    std::vector<fs::path> logs;
    for (std::size_t i = 0; i < dimse_dirs.size(); ++i) {
      logs.push_back(corpus.path() /
                     ("storescu-" + std::to_string(round) + "-" + std::to_string(i)));
      senders.push_back(std::make_unique<testing::Background>(
          std::vector<std::string>{"storescu", "-v", "-aec", "PACSNODE", "+sd", "+r", "127.0.0.1",
                                   std::to_string(node.dimse_port()), dimse_dirs[i].string()},
          logs.back().string(), std::vector<std::string>{"TCP_NODELAY=1"}));
    }
    std::atomic<bool> stop{false};
    Acknowledged acked;
    std::thread stow([&] {
      stow_until_stopped(node.http_port(), stow_files, stow_next, corpus.path(), stop, acked);
    });
    std::thread orders(
        [&] { order_until_stopped(node.mllp_port(), order_sequence, pending_order, stop, acked); });
    // Kill once every workload has had something acknowledged, at a random moment after that.
    const auto deadline = std::chrono::steady_clock::now() + kFirstAckWait;
    while ((acked.stow_acks == 0 || acked.order_acks == 0 || count_acks(logs[0]) == 0) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 600)(random)));
    node.kill_hard();
    stop = true;
    stow.join();
    orders.join();
    for (auto& sender : senders) sender->stop();
    EXPECT_GT(acked.stow_acks, 0) << acked.last_refusal << "\n" << node.log();
    EXPECT_GT(acked.order_acks, 0);
    for (const auto& log : logs) {
      const auto files = acknowledged_files(read_text(log));
      acked_files.insert(files.begin(), files.end());
    }
    acked_sops.insert(acked.stowed_sops.begin(), acked.stowed_sops.end());
    acked_placers.insert(acked.placers.begin(), acked.placers.end());

    node.start();  // recovers from the unclean stop
    auto index = node.open_index();
    for (const auto& file : acked_files) {
      const auto& sop = sop_of.at(file);
      auto row = index->find_instance(sop);
      ASSERT_TRUE(row && *row) << "C-STORE acknowledged " << sop << ", missing after the kill";
    }
    for (const auto& sop : acked_sops) {
      auto row = index->find_instance(sop);
      ASSERT_TRUE(row && *row) << "STOW-RS acknowledged " << sop << ", missing after the kill";
    }
    for (const auto& placer : acked_placers) {
      auto order = index->find_order(placer, "");
      ASSERT_TRUE(order && *order) << "HL7 acknowledged order " << placer << ", missing";
    }
    expect_index_and_files_agree(node);  // also: no SOP Instance twice, no file twice
    ASSERT_EQ(node.stop(), 0);
    const auto checked = node.fsck();
    ASSERT_EQ(checked.exit_code, 0) << checked.output;
  }
  // The pending order, resent once more with its control ID, is applied at most once; a fresh
  // full run completes; every stored object is the one that was sent.
  node.start();
  if (pending_order) {
    testing::MllpClient client(node.mllp_port());
    EXPECT_EQ(testing::ack_code(client.exchange(testing::orm(*pending_order)).value_or("")), "AA");
    auto again = client.exchange(testing::orm(*pending_order));
    EXPECT_EQ(testing::ack_code(again.value_or("")), "AA")
        << "a resend is acknowledged, not applied";
  }
  for (const auto& dir : dimse_dirs)
    ASSERT_EQ(testing::storescu(node.dimse_port(), {dir.string()}).exit_code, 0);
  // The upload cut by the last kill may or may not have been stored: sent again, it is.
  std::size_t uploaded = stow_next;
  if (stow_next < stow_files.size()) {
    std::size_t first = 0;
    std::atomic<bool> no_stop{false};
    Acknowledged last;
    stow_until_stopped(node.http_port(), {stow_files[stow_next]}, first, corpus.path(), no_stop,
                       last);
    ASSERT_EQ(last.stow_acks, 1);
    uploaded = stow_next + 1;
  }
  auto index = node.open_index();
  for (const auto& file : acked_files) {
    auto row = index->find_instance(sop_of.at(file));
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(testing::dataset_bytes(node.data_dir() / (*row)->relative_path),
              testing::dataset_bytes(file));
  }
  EXPECT_EQ(index->counts()->instances, static_cast<std::int64_t>(sop_of.size() + uploaded))
      << "every instance once: all C-STORE corpora, and the STOW-RS uploads made";
  expect_index_and_files_agree(node);

  // The forwarding queue resumed after every kill: everything stored reaches the destination.
  const auto all_sent_by = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < all_sent_by &&
         index->queue_counts().value_or(std::map<std::string, std::int64_t>{})["pending"] > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto queued = index->queue_counts();
  ASSERT_TRUE(queued);
  EXPECT_EQ((*queued)["pending"], 0) << node.log();
  EXPECT_EQ((*queued)["failed"], 0);
  std::set<std::string> stored, forwarded;
  const auto rows = index->all_instances();
  ASSERT_TRUE(rows);
  for (const auto& row : *rows) stored.insert(row.sop_instance_uid);
  for (const auto& file : destination.files())
    forwarded.insert(testing::identity_of(file).sop_instance_uid);
  EXPECT_EQ(forwarded, stored) << "every stored instance forwarded";
  ASSERT_EQ(node.stop(), 0);
  const auto checked = node.fsck();
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  std::cout << "kill harness: " << kills
            << " kills; acknowledged before a kill: " << acked_files.size() << " C-STORE files, "
            << acked_sops.size() << " STOW-RS instances, " << acked_placers.size()
            << " HL7 orders; " << forwarded.size() << " instances forwarded after the kills\n";
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest, ::testing::Values("sqlite", "postgresql"));
INSTANTIATE_TEST_SUITE_P(Backends, KillTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
