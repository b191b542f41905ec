#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "storage/index.h"
#include "storage/migrations.h"
#include "storage/model/clock.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {

Uid uid(const std::string& text) {
  return *Uid::parse(text);
}

IndexEntry entry(const std::string& patient, const std::string& study, const std::string& series,
                 const std::string& sop, const std::string& modality = "CT",
                 const std::string& sop_class = "1.2.840.10008.5.1.4.1.1.2") {
  IndexEntry e{PatientRecord{patient, "", "Doe^Jane", "19700101", "F", "p"},
               StudyRecord{uid(study), "20260101", "120000", "ACC1", "S1", "", "CT head", "s"},
               SeriesRecord{uid(series), modality, "1", "axial", "se"},
               InstanceRecord{uid(sop), uid(sop_class), "1", "1.2.840.10008.1.2.1",
                              "objects/" + sop + ".dcm", 42, "crc32c:0000002a", "i"}};
  return e;
}

class IndexTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string url;
    PACS_REQUIRE_BACKEND(GetParam(), url);
    auto opened = Index::open(url, dir_.path());
    ASSERT_TRUE(opened) << opened.error().message;
    index_ = std::move(*opened);
    url_ = url;
  }
  std::vector<WriteResult> write(std::vector<IndexWrite> writes) {
    auto r = index_->write_batch(writes);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : std::vector<WriteResult>{};
  }
  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<Index> index_;
};

TEST_P(IndexTest, MigratesToTheLatestSchemaAndReopens) {
  EXPECT_EQ(index_->schema_version(), latest_schema_version());
  auto again = Index::open(url_, dir_.path());
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->schema_version(), latest_schema_version());
}

TEST_P(IndexTest, KeepsTheCountsOfEveryLevel) {
  write({{entry("P1", "1.1", "1.1.1", "1.1.1.1")},
         {entry("P1", "1.1", "1.1.1", "1.1.1.2")},
         {entry("P1", "1.1", "1.1.2", "1.1.2.1", "MR", "1.2.840.10008.5.1.4.1.1.4")},
         {entry("P1", "1.2", "1.2.1", "1.2.1.1")},
         {entry("P2", "2.1", "2.1.1", "2.1.1.1")}});
  auto counts = index_->counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->patients, 2);
  EXPECT_EQ(counts->studies, 3);
  EXPECT_EQ(counts->series, 4);
  EXPECT_EQ(counts->instances, 5);
  auto study = index_->study_summary("1.1");
  ASSERT_TRUE(study && *study);
  EXPECT_EQ((*study)->series_count, 2);
  EXPECT_EQ((*study)->instance_count, 3);
  EXPECT_EQ((*study)->modalities_in_study, "CT\\MR");
  EXPECT_EQ((*study)->sop_classes_in_study, "1.2.840.10008.5.1.4.1.1.2\\1.2.840.10008.5.1.4.1.1.4");
  EXPECT_EQ((*study)->patient_id, "P1");
}

TEST_P(IndexTest, AKnownSopInstanceIsLeftAloneUnlessReplaced) {
  write({{entry("P1", "1.1", "1.1.1", "1.1.1.1")}});
  auto second = write({{entry("P1", "1.1", "1.1.1", "1.1.1.1")}});
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].outcome, WriteOutcome::AlreadyExists);
  IndexWrite replacement{entry("P1", "1.1", "1.1.1", "1.1.1.1"), true};
  replacement.entry.instance.relative_path = "objects/new.dcm";
  auto third = write({replacement});
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].outcome, WriteOutcome::Replaced);
  EXPECT_EQ(third[0].replaced_path, "objects/1.1.1.1.dcm");
  EXPECT_EQ((*index_->find_instance("1.1.1.1"))->relative_path, "objects/new.dcm");
  EXPECT_EQ(index_->counts()->instances, 1);
  EXPECT_EQ((*index_->study_summary("1.1"))->instance_count, 1);
}

TEST_P(IndexTest, KeepsEachInstancesChecksum) {
  write({{entry("P1", "1.1", "1.1.1", "1.1.1.1")}});
  EXPECT_EQ((*index_->find_instance("1.1.1.1"))->checksum, "crc32c:0000002a");
  ASSERT_TRUE(index_->set_instance_checksum("1.1.1.1", "objects/other.dcm", "crc32c:00000001"));
  EXPECT_EQ((*index_->find_instance("1.1.1.1"))->checksum, "crc32c:0000002a")
      << "a row that points at another file keeps its checksum";
  ASSERT_TRUE(index_->set_instance_checksum("1.1.1.1", "objects/1.1.1.1.dcm", "crc32c:00000001"));
  EXPECT_EQ((*index_->all_instances())[0].checksum, "crc32c:00000001");
}

TEST_P(IndexTest, KeptCountsAndSetsStayTrueToTheRowsAsInstancesComeAndGo) {
  write({{entry("P1", "1.1", "1.1.1", "1.1.1.1")},
         {entry("P1", "1.1", "1.1.2", "1.1.2.1", "MR", "1.2.840.10008.5.1.4.1.1.4")},
         {entry("P1", "1.2", "1.2.1", "1.2.1.1")}});
  auto none = index_->verify_counts(false);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->empty());
  // The study's only MR instance goes: its SOP class goes from SOPClassesInStudy with it.
  ASSERT_TRUE(index_->forget_instance("1.1.2.1", "objects/1.1.2.1.dcm"));
  EXPECT_EQ((*index_->study_summary("1.1"))->sop_classes_in_study, "1.2.840.10008.5.1.4.1.1.2");
  auto after_forget = index_->verify_counts(false);
  ASSERT_TRUE(after_forget);
  EXPECT_TRUE(after_forget->empty())
      << after_forget->front().entity << " " << after_forget->front().field;
}

TEST_P(IndexTest, ForgettingAnInstanceTakesItOutOfTheCounts) {
  write({{entry("P1", "1.1", "1.1.1", "1.1.1.1")}, {entry("P1", "1.1", "1.1.1", "1.1.1.2")}});
  ASSERT_TRUE(index_->forget_instance("1.1.1.2", "objects/other.dcm"));  // another file: kept
  EXPECT_EQ(index_->counts()->instances, 2);
  ASSERT_TRUE(index_->forget_instance("1.1.1.2", "objects/1.1.1.2.dcm"));
  EXPECT_EQ(index_->counts()->instances, 1);
  EXPECT_FALSE(*index_->find_instance("1.1.1.2"));
  EXPECT_EQ((*index_->study_summary("1.1"))->instance_count, 1);
  auto latest = index_->latest_instances(10);
  ASSERT_TRUE(latest);
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].sop_instance_uid, "1.1.1.1");
}

TEST_P(IndexTest, ConcurrentWritersKeepCountsExact) {
  // Several threads (and for PostgreSQL, several connections) add to one study at once.
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string series = "1.1." + std::to_string(t + 1);
        IndexWrite w{
            entry("P1", "1.1", series, series + "." + std::to_string(i + 1), t % 2 ? "MR" : "CT")};
        auto r = index_->write_batch(std::span<const IndexWrite>(&w, 1));
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
      }
    });
  for (auto& t : threads) t.join();
  auto study = *index_->study_summary("1.1");
  EXPECT_EQ(study->instance_count, kThreads * kPerThread);
  EXPECT_EQ(study->series_count, kThreads);
  EXPECT_EQ(study->modalities_in_study, "CT\\MR");
}

TEST_P(IndexTest, EachDueItemIsClaimedByOneNodeUntilItsLeaseLapses) {
  // Two nodes on one index (for SQLite, two connections to one file) claim forwarding work at
  // once: every item goes to exactly one of them.
  constexpr int kItems = 40;
  std::vector<IndexWrite> writes;
  for (int i = 1; i <= kItems; ++i)
    writes.push_back({entry("P1", "1.1", "1.1.1", "1.1.1." + std::to_string(i)), false, {"DEST"}});
  write(writes);
  auto other = Index::open(url_, dir_.path());
  ASSERT_TRUE(other) << other.error().message;
  const std::int64_t now = wall_clock_ms();
  const ClaimPolicy a{"node-a", 30000}, b{"node-b", 30000}, c{"node-c", 30000};
  std::vector<std::int64_t> claimed_by_a, claimed_by_b;
  auto claim_all = [now](Index& index, const ClaimPolicy& claim, std::vector<std::int64_t>& out) {
    for (int round = 0; round < kItems; ++round) {  // bounded: one item at least per round
      auto items = index.claim_queue_items(now, 3, claim);
      ASSERT_TRUE(items) << items.error().message;
      if (items->empty()) return;
      for (const QueueItem& item : *items) out.push_back(item.id);
    }
  };
  std::thread first([&] { claim_all(*index_, a, claimed_by_a); });
  std::thread second([&] { claim_all(**other, b, claimed_by_b); });
  first.join();
  second.join();
  std::set<std::int64_t> all(claimed_by_a.begin(), claimed_by_a.end());
  all.insert(claimed_by_b.begin(), claimed_by_b.end());
  EXPECT_EQ(all.size(), claimed_by_a.size() + claimed_by_b.size()) << "an item claimed twice";
  EXPECT_EQ(all.size(), std::size_t{kItems});

  // Then step by step: released, node a takes 10 and node b the other 30.
  EXPECT_EQ(*index_->release_claims("node-a") + *index_->release_claims("node-b"),
            std::size_t{kItems});
  auto held_a = index_->claim_queue_items(now, 10, a);
  auto held_b = (*other)->claim_queue_items(now, 100, b);
  ASSERT_TRUE(held_a && held_b);
  ASSERT_EQ(held_a->size(), 10u);
  ASSERT_EQ(held_b->size(), std::size_t{kItems - 10});
  // Held under live leases: nobody gets them, the holder included.
  EXPECT_TRUE(index_->claim_queue_items(now, 100, c)->empty());
  EXPECT_TRUE(index_->claim_queue_items(now, 100, a)->empty());
  // A renewal keeps node a's past the first lease; an attempt recorded ends the claim.
  EXPECT_EQ(*index_->renew_leases(a, now + 20000), 10u);
  ASSERT_TRUE(index_->update_queue_item(held_a->front().id, "sent", 0, "", now));
  EXPECT_EQ(*index_->renew_leases(a, now + 20000), 9u);
  // Once node b's leases lapse (its node died), node c takes its items, and only those: node a's
  // were renewed, and the sent one is done.
  auto taken = index_->claim_queue_items(now + 30001, 100, c);
  ASSERT_TRUE(taken);
  std::set<std::int64_t> taken_ids, b_ids;
  for (const QueueItem& item : *taken) taken_ids.insert(item.id);
  for (const QueueItem& item : *held_b) b_ids.insert(item.id);
  EXPECT_EQ(taken_ids, b_ids);
  // A node starting under node a's name (a died) releases what a held: due again at once.
  EXPECT_EQ(*index_->release_claims("node-a"), 9u);
  EXPECT_EQ(index_->claim_queue_items(now, 100, c)->size(), 9u);

  // The HL7 outbox is claimed the same way.
  ASSERT_TRUE(index_->complete_quiet_studies(now + 1000000, {"EHR1", "EHR2"}, 10));
  auto outbox_a = index_->claim_outbox(now + 1000000, 1, a);
  auto outbox_b = (*other)->claim_outbox(now + 1000000, 10, b);
  ASSERT_TRUE(outbox_a && outbox_b);
  ASSERT_EQ(outbox_a->size(), 1u);
  ASSERT_EQ(outbox_b->size(), 1u);
  EXPECT_NE(outbox_a->front().id, outbox_b->front().id);
  EXPECT_TRUE(index_->claim_outbox(now + 1000000, 10, c)->empty());
  // Their nodes died: once the leases lapse, node c takes both.
  EXPECT_EQ(index_->claim_outbox(now + 1000000 + 30001, 10, c)->size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, IndexTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
