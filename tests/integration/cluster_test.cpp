// Several nodes on one PostgreSQL index and one data directory (docs/scale-out.md): two nodes that
// receive the same instances at once, and the cluster recipe (scripts/cluster.sh, nginx in front)
// with one node killed mid-way through a concurrent ingest.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdeftag.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "storage/index.h"
#include "storage/sql/connection.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/mllp.h"
#include "tests/support/process.h"
#include "tests/support/storescp.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

std::size_t files_in(const fs::path& dir) {
  return testing::files_below(dir).size();
}

// MSH-10: the tenth '|'-separated piece of the message's first segment.
std::string control_id_of(const std::string& message) {
  std::size_t at = 0;
  for (int i = 0; i < 9 && at != std::string::npos; ++i) at = message.find('|', at + 1);
  if (at == std::string::npos) return {};
  return message.substr(at + 1, message.find_first_of("|\r", at + 1) - at - 1);
}

TEST(ClusterTest, TwoNodesReceivingTheSameInstancesAtOnceApplyTheDuplicatePolicyOnce) {
  std::string url;
  PACS_REQUIRE_BACKEND("postgresql", url);
  testing::TempDir dir;
  const fs::path shared = dir.path() / "data";
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "2", "--studies", "2", "--series", "2", "--instances",
                              "6", "--rows", "32", "--columns", "32"});
  // The same instances with other content (an image comment): a duplicate, not a resend.
  const auto copies = testing::generate_corpus(
      dir.path() / "copies", {"--patients", "2", "--studies", "2", "--series", "2", "--instances",
                              "6", "--rows", "32", "--columns", "32"});
  for (const auto& copy : copies)
    ASSERT_EQ(
        testing::run({"dcmodify", "-nb", "-i", "(0020,4000)=the other arrival", copy.string()})
            .exit_code,
        0);
  std::vector<std::unique_ptr<TestNode>> nodes;
  for (const char* name : {"node-a", "node-b"}) {
    nodes.push_back(std::make_unique<TestNode>(
        TestNode::Options{.db = url,
                          .extra_flags = {"--node-name", name, "--duplicate-policy", "reject"},
                          .data_dir = shared}));
    nodes.back()->start();
  }
  // Both nodes get every instance, on one association each, at the same time.
  std::vector<testing::StoreAttempt> to_a, to_b;
  std::thread a([&] { to_a = testing::store_each(nodes[0]->dimse_port(), files); });
  std::thread b([&] { to_b = testing::store_each(nodes[1]->dimse_port(), copies); });
  a.join();
  b.join();
  ASSERT_EQ(to_a.size(), files.size());
  ASSERT_EQ(to_b.size(), files.size());
  std::map<std::string, int> accepted;
  for (const auto* attempts : {&to_a, &to_b})
    for (const testing::StoreAttempt& attempt : *attempts) {
      ASSERT_TRUE(attempt.sent) << attempt.sop_instance_uid;
      if (attempt.status == 0) ++accepted[attempt.sop_instance_uid];
    }
  // "reject": the first arrival is stored, the other refused, whichever node each reached; the
  // stored file is the accepted one.
  auto index = nodes[0]->open_index();
  std::size_t from_b = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string sop = testing::identity_of(files[i]).sop_instance_uid;
    ASSERT_EQ(testing::identity_of(copies[i]).sop_instance_uid, sop);
    EXPECT_EQ(accepted[sop], 1) << sop;
    const bool b_won = to_b[i].status == 0;
    from_b += b_won;
    const auto stored = index->find_instance(sop);
    ASSERT_TRUE(stored && *stored) << sop;
    EXPECT_EQ(testing::value_of(shared / (*stored)->relative_path, DCM_ImageComments),
              b_won ? "the other arrival" : "")
        << sop;
  }
  std::printf("node b's copy won %zu of %zu races\n", from_b, files.size());
  EXPECT_EQ(index->counts()->instances, static_cast<std::int64_t>(files.size()));
  EXPECT_TRUE(index->verify_counts(false)->empty());
  for (auto& node : nodes) EXPECT_EQ(node->stop(), 0);
  // One file per instance: the refused arrivals left nothing behind.
  EXPECT_EQ(files_in(shared / "objects"), files.size());
  const auto checked = nodes[0]->fsck();
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
}

// An EHR that hangs on the first message it gets (no answer, the connection held open for
// `hold`), then answers every later one.
struct EhrHangingOnce {
  explicit EhrHangingOnce(std::chrono::seconds hold)
      : listener(
            port, nullptr, [this](const std::string&) { return arrivals++ == 0; }, hold) {}
  std::atomic<int> arrivals{0};
  const int port = testing::free_port();
  testing::MllpListener listener;
};

TEST(ClusterTest, AnHl7MessageWhoseSenderDiedIsTakenOverAndAcknowledgedOnce) {
  std::string url;
  PACS_REQUIRE_BACKEND("postgresql", url);
  testing::TempDir dir;
  // The EHR hangs on the first message it gets (its sender dies waiting for the answer).
  EhrHangingOnce hanging(std::chrono::seconds(8));
  testing::MllpListener& ehr = hanging.listener;
  const int ehr_port = hanging.port;
  std::map<std::string, std::unique_ptr<TestNode>> nodes;
  for (const char* name : {"node-a", "node-b"}) {
    nodes[name] = std::make_unique<TestNode>(
        TestNode::Options{.db = url,
                          .extra_flags = {"--node-name", name, "--hl7-destination",
                                          "EHR=127.0.0.1:" + std::to_string(ehr_port),
                                          "--study-quiet-seconds", "1", "--lease-seconds", "3"},
                          .data_dir = dir.path() / "data"});
    nodes[name]->start();
  }
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "3", "--rows", "32", "--columns", "32"});
  ASSERT_EQ(testing::storescu(nodes["node-a"]->dimse_port(), {(dir.path() / "corpus").string()})
                .exit_code,
            0);
  // The study completes; a node claims its announcement and waits on the hung EHR: kill it.
  auto db = sql::open_postgresql(url);
  std::int64_t item = 0;
  std::string holder;
  for (int i = 0; i < 1500 && holder.empty(); ++i) {  // 30 s at most
    const auto rows = db->query("SELECT pk, claimed_by FROM hl7_outbox WHERE claimed_by <> ''");
    if (!rows.empty()) {
      item = rows[0].integer(0);
      holder = rows[0].text(1);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ASSERT_FALSE(holder.empty()) << "no node claimed the announcement";
  ASSERT_TRUE(ehr.wait_for("PNO" + std::to_string(item), std::chrono::seconds(15)))
      << "the holder never sent it";
  nodes[holder]->kill_hard();
  // Its lease still stands a moment later: the other node has not taken the item from under it.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(db->query("SELECT claimed_by FROM hl7_outbox")[0].text(0), holder);
  // The other node takes it over once the lease lapses, and the EHR acknowledges it.
  std::vector<sql::Row> rows;
  for (int i = 0; i < 400; ++i) {  // 40 s at most
    rows = db->query("SELECT state, claimed_by FROM hl7_outbox");
    if (rows.size() == 1 && rows[0].text(0) == "sent") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(rows.size(), 1u) << "one announcement for the study";
  EXPECT_EQ(rows[0].text(0), "sent");
  // Two arrivals of the one message under its one control ID: the first unanswered (its sender
  // died), the second acknowledged.
  const auto messages = ehr.messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(control_id_of(messages[0]), "PNO" + std::to_string(item));
  EXPECT_EQ(control_id_of(messages[1]), "PNO" + std::to_string(item));
  for (auto& [name, node] : nodes) {
    if (name != holder) {
      EXPECT_TRUE(node->running()) << node->log();
    }
  }
}

TEST(ClusterTest, ANodeStoppingReleasesTheItemsItClaimedAndDidNotAttempt) {
  std::string url;
  PACS_REQUIRE_BACKEND("postgresql", url);
  testing::TempDir dir;
  // One study is announced to two destinations (one EHR behind both names): the node claims both
  // items in one batch, and the EHR hangs on the first.
  EhrHangingOnce hanging(std::chrono::seconds(4));
  testing::MllpListener& ehr = hanging.listener;
  const int ehr_port = hanging.port;
  TestNode node({.db = url,
                 .extra_flags = {"--node-name", "node-a", "--hl7-destination",
                                 "EHR1=127.0.0.1:" + std::to_string(ehr_port), "--hl7-destination",
                                 "EHR2=127.0.0.1:" + std::to_string(ehr_port),
                                 "--study-quiet-seconds", "1"}});
  node.start();
  testing::generate_corpus(dir.path() / "corpus",
                           {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                            "1", "--rows", "32", "--columns", "32"});
  ASSERT_EQ(testing::storescu(node.dimse_port(), {(dir.path() / "corpus").string()}).exit_code, 0);
  auto db = sql::open_postgresql(url);
  auto claimed = [&] {
    return db->query("SELECT COUNT(*) FROM hl7_outbox WHERE claimed_by = 'node-a'")[0].integer(0);
  };
  for (int i = 0; i < 1500 && claimed() < 2; ++i)  // 30 s at most
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(claimed(), 2);
  ASSERT_TRUE(ehr.wait_for("MSH", std::chrono::seconds(10)));
  // Stopped while it waits on the first: it records that attempt and leaves the second, unsent
  // and no longer its own.
  EXPECT_EQ(node.stop(), 0);
  EXPECT_EQ(claimed(), 0);
  const auto pending = db->query("SELECT COUNT(*) FROM hl7_outbox WHERE state = 'pending'");
  EXPECT_EQ(pending[0].integer(0), 2);
}

// scripts/cluster.sh in a temp dir: started with extra node flags, stopped when this goes.
class Cluster {
 public:
  explicit Cluster(const std::vector<std::string>& node_flags) {
    std::vector<std::string> argv = {"bash",
                                     std::string(PACSNODE_SOURCE_DIR) + "/scripts/cluster.sh",
                                     "start",
                                     "--dir",
                                     dir_.path().string(),
                                     "--owner",
                                     std::to_string(::getpid()),  // a crashed test leaks nothing
                                     "--"};
    argv.insert(argv.end(), node_flags.begin(), node_flags.end());
    const auto started = testing::run(argv, std::chrono::seconds(180),
                                      {"PACSNODE_BIN=" + testing::pacsnode_binary()});
    if (started.exit_code != 0)
      throw std::runtime_error("cluster.sh start failed:\n" + started.output);
    std::ifstream in(dir_.path() / "cluster.env");
    for (std::string line; std::getline(in, line);)
      if (const auto eq = line.find('='); eq != std::string::npos)
        env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  ~Cluster() {
    testing::run({"bash", std::string(PACSNODE_SOURCE_DIR) + "/scripts/cluster.sh", "stop", "--dir",
                  dir_.path().string()},
                 std::chrono::seconds(120));
  }
  std::string get(const std::string& key) const { return env_.at(key); }
  int port(const std::string& key) const { return std::stoi(get(key)); }
  fs::path data() const { return get("CLUSTER_DATA"); }
  std::string log(int node) const {
    std::ifstream in(dir_.path() / ("node" + std::to_string(node) + ".log"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  testing::TempDir dir_;
  std::map<std::string, std::string> env_;
};

// What clients were told was stored (C-STORE success, or STOW-RS success for the instance).
class Acknowledged {
 public:
  void add(const std::string& sop) {
    std::lock_guard lock(mu_);
    sops_.insert(sop);
  }
  std::set<std::string> all() {
    std::lock_guard lock(mu_);
    return sops_;
  }

 private:
  std::mutex mu_;
  std::set<std::string> sops_;
};

TEST(ClusterTest, ANodeKilledMidIngestLosesNothingAcknowledgedAndItsClaimedWorkGoesToTheOthers) {
  testing::TempDir dir;
  testing::Storescp destination({"--sleep-during", "1", "+uf"});  // slow: forwards stay claimed
  const int ehr_port = testing::free_port();
  testing::MllpListener ehr(ehr_port);
  Cluster cluster({"--peer", "DEST=127.0.0.1:" + std::to_string(destination.port()), "--route",
                   "modality=CT->DEST", "--route-retry-seconds", "0.5", "--hl7-destination",
                   "EHR=127.0.0.1:" + std::to_string(ehr_port), "--study-quiet-seconds", "4",
                   "--lease-seconds", "5"});
  const int dimse = cluster.port("CLUSTER_DIMSE_PORT"), http = cluster.port("CLUSTER_HTTP_PORT");

  // CT (routed) on one association; MR over twelve associations and four STOW-RS requests, all
  // at once through the balancer.
  const auto routed = testing::generate_corpus(
      dir.path() / "ct", {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "8",
                          "--rows", "32", "--columns", "32", "--modality", "CT", "--seed", "11"});
  const auto dimse_files = testing::generate_corpus(
      dir.path() / "mr", {"--patients", "3", "--studies", "2", "--series", "2", "--instances", "5",
                          "--rows", "32", "--columns", "32", "--modality", "MR", "--seed", "12"});
  const auto stow_files = testing::generate_corpus(
      dir.path() / "stow",
      {"--patients", "2", "--studies", "2", "--series", "1", "--instances", "5", "--rows", "32",
       "--columns", "32", "--modality", "MR", "--seed", "13"});
  Acknowledged acknowledged;
  auto store = [&](const std::vector<fs::path>& files) {
    testing::store_each(dimse, files, [&](const testing::StoreAttempt& attempt) {
      if (attempt.sent && attempt.status == 0) acknowledged.add(attempt.sop_instance_uid);
    });
  };
  std::vector<std::thread> clients;
  clients.emplace_back([&] { store(routed); });
  for (int worker = 0; worker < 4; ++worker)
    clients.emplace_back([&, worker] {
      for (std::size_t chunk = worker; chunk * 5 < dimse_files.size(); chunk += 4)
        store(
            {dimse_files.begin() + static_cast<long>(chunk * 5),
             dimse_files.begin() + static_cast<long>(std::min(chunk * 5 + 5, dimse_files.size()))});
    });
  for (std::size_t request = 0; request < 4; ++request)
    clients.emplace_back([&, request] {
      const std::vector<fs::path> part(stow_files.begin() + static_cast<long>(request * 5),
                                       stow_files.begin() + static_cast<long>(request * 5 + 5));
      const auto response =
          testing::stow(http, part, dir.path() / ("stow" + std::to_string(request) + ".body"));
      if (response.status == 200)
        for (const auto& f : part) acknowledged.add(testing::identity_of(f).sop_instance_uid);
    });

  // Kill the first node seen holding forwarding work, while the clients are still sending.
  auto db = sql::open_postgresql(cluster.get("CLUSTER_DB"));
  std::string victim;
  for (int i = 0; i < 1500 && victim.empty(); ++i) {  // 30 s at most
    const auto rows = db->query(
        "SELECT claimed_by FROM outbound_queue WHERE claimed_by <> '' AND state = 'pending' "
        "LIMIT 1");
    if (!rows.empty()) victim = rows[0].text(0);
    if (victim.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(victim.empty()) << "no node ever claimed the forwarding work";
  const std::string number = victim.substr(4);  // "nodeN"
  ASSERT_EQ(::kill(cluster.port("CLUSTER_NODE" + number + "_PID"), SIGKILL), 0);
  std::set<std::string> held_forwards;
  for (const auto& r : db->query("SELECT sop_uid FROM outbound_queue WHERE claimed_by = '" +
                                 victim + "' AND state = 'pending'"))
    held_forwards.insert(r.text(0));
  for (auto& client : clients) client.join();
  const std::set<std::string> acked = acknowledged.all();
  EXPECT_GT(acked.size(), 40u);

  // Every acknowledged instance is indexed once, with its file whole; the counts agree.
  std::map<std::string, std::int64_t> indexed;
  for (const auto& r : db->query("SELECT sop_uid, path, size_bytes FROM instances")) {
    indexed[r.text(0)] = r.integer(2);
    std::error_code ec;
    EXPECT_EQ(static_cast<std::int64_t>(fs::file_size(cluster.data() / r.text(1), ec)),
              r.integer(2))
        << r.text(0) << ": " << ec.message();
  }
  for (const std::string& sop : acked) EXPECT_TRUE(indexed.count(sop)) << "lost " << sop;
  auto index = Index::open(cluster.get("CLUSTER_DB"), cluster.data());
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_TRUE((*index)->verify_counts(false)->empty());
  // QIDO through the balancer agrees with the index, whichever node answers, from the primary or
  // from the replica (which answers once it has replayed what the primary had written); the
  // survivors' counters show the replica answering.
  auto replica_answers = [&] {
    double answered = 0;
    for (int node = 1; node <= 3; ++node) {
      if ("node" + std::to_string(node) == victim) continue;
      const auto metrics = testing::http_request(
          cluster.port("CLUSTER_NODE" + std::to_string(node) + "_HTTP_PORT"), "GET", "/metrics");
      const std::string key = "pacsnode_index_queries_total{server=\"replica\"} ";
      if (const auto at = metrics.body.find(key); at != std::string::npos)
        answered += std::stod(metrics.body.substr(at + key.size()));
    }
    return answered;
  };
  for (int attempt = 0; attempt < 20; ++attempt) {
    const auto studies = testing::http_request(http, "GET", "/dicom-web/studies");
    ASSERT_EQ(studies.status, 200) << studies.body;
    std::int64_t instances_in_studies = 0;
    const auto listed = testing::parse_json(studies.body);
    for (const auto& study : listed.as_array())
      instances_in_studies +=
          study.at("00201208").at("Value").as_array().at(0).to_number<std::int64_t>();
    EXPECT_EQ(instances_in_studies, static_cast<std::int64_t>(indexed.size()));
    if (replica_answers() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GT(replica_answers(), 0);

  // Routing: every stored CT instance reaches the destination, once; only what the dead node
  // had claimed (and was perhaps sending) may arrive twice.
  std::set<std::string> routed_stored;
  for (const auto& f : routed)
    if (const auto sop = testing::identity_of(f).sop_instance_uid; indexed.count(sop))
      routed_stored.insert(sop);
  ASSERT_FALSE(routed_stored.empty());
  std::map<std::string, int> arrived;
  for (int i = 0; i < 900; ++i) {  // 90 s at most
    arrived.clear();
    for (const auto& f : destination.files()) ++arrived[testing::identity_of(f).sop_instance_uid];
    const auto pending = db->query("SELECT COUNT(*) FROM outbound_queue WHERE state <> 'sent'");
    if (arrived.size() >= routed_stored.size() && pending[0].integer(0) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const std::string& sop : routed_stored) {
    ASSERT_TRUE(arrived.count(sop)) << "never forwarded: " << sop;
    EXPECT_LE(arrived[sop], held_forwards.count(sop) ? 2 : 1) << sop;
  }
  EXPECT_FALSE(held_forwards.empty());
  std::size_t twice = 0;
  for (const auto& [sop, times] : arrived) twice += times > 1;
  std::printf("%s held %zu forwards when killed; %zu instances arrived twice\n", victim.c_str(),
              held_forwards.size(), twice);

  // Outbound HL7: one study-complete item per stored study, each sent; each message (its control
  // ID is its item's) arrives once, whichever of the live nodes sent it.
  const auto stored_studies = db->query("SELECT COUNT(*) FROM studies")[0].integer(0);
  std::vector<sql::Row> items;
  for (int i = 0; i < 600; ++i) {  // 60 s at most
    items = db->query("SELECT pk, state FROM hl7_outbox WHERE event = 'study-complete'");
    std::size_t sent = 0;
    for (const auto& r : items) sent += r.text(1) == "sent";
    if (static_cast<std::int64_t>(sent) >= stored_studies) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(static_cast<std::int64_t>(items.size()), stored_studies);
  std::map<std::string, int> received;
  for (const std::string& message : ehr.messages()) ++received[control_id_of(message)];
  for (const auto& r : items) {
    EXPECT_EQ(r.text(1), "sent");
    EXPECT_EQ(received["PNO" + std::to_string(r.integer(0))], 1) << "item " << r.integer(0);
  }
  // The survivors stayed up throughout.
  for (int node = 1; node <= 3; ++node) {
    if ("node" + std::to_string(node) == victim) continue;
    EXPECT_EQ(::kill(cluster.port("CLUSTER_NODE" + std::to_string(node) + "_PID"), 0), 0)
        << cluster.log(node);
  }
}

}  // namespace
}  // namespace pacs
