// The index on the SQL layer: one implementation for SQLite and PostgreSQL.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "storage/find_sql.h"
#include "storage/index.h"
#include "storage/migrations.h"
#include "storage/model/clock.h"
#include "storage/model/log.h"
#include "storage/model/metrics.h"
#include "storage/shared_transaction.h"
#include "storage/sql/connection.h"
#include "storage/sql_claims.h"
#include "storage/sql_consistency.h"
#include "storage/sql_outbox.h"
#include "storage/sql_patients.h"
#include "storage/sql_reconciliation.h"
#include "storage/sql_removal.h"
#include "storage/sql_timeline.h"
#include "storage/sql_workflow.h"

namespace pacs {
namespace {

using sql::Value;

// Connections are not thread-safe; each caller borrows one for the length of a call.
class ConnectionPool {
 public:
  explicit ConnectionPool(std::function<std::unique_ptr<sql::Connection>()> factory)
      : factory_(std::move(factory)) {}

  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<sql::Connection> c)
        : pool_(pool), connection_(std::move(c)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (connection_) pool_.give_back(std::move(connection_));
    }
    sql::Connection& operator*() { return *connection_; }
    sql::Connection* operator->() { return connection_.get(); }
    // After a non-transient failure the connection may be broken: do not reuse it.
    void discard() { connection_.reset(); }

   private:
    ConnectionPool& pool_;
    std::unique_ptr<sql::Connection> connection_;
  };

  Lease borrow() {
    // Bounded by the idle list, which only shrinks here.
    while (true) {
      std::unique_ptr<sql::Connection> c;
      {
        std::lock_guard lock(mu_);
        if (idle_.empty()) break;
        c = std::move(idle_.back());
        idle_.pop_back();
      }
      // One the server dropped (it restarted) is replaced rather than failing a request.
      if (c->usable()) return Lease(*this, std::move(c));
    }
    return Lease(*this, factory_());
  }

  void drop_idle() {
    std::lock_guard lock(mu_);
    idle_.clear();
  }

 private:
  void give_back(std::unique_ptr<sql::Connection> c) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
  }

  static constexpr std::size_t kMaxIdle = 16;
  std::function<std::unique_ptr<sql::Connection>()> factory_;
  std::mutex mu_;
  std::vector<std::unique_ptr<sql::Connection>> idle_;  // guarded by mu_
};

// Adds value to a backslash-separated sorted set; returns whether it changed.
bool add_to_set(std::string& joined, const std::string& value) {
  if (value.empty()) return false;
  std::set<std::string> items;
  std::stringstream in(joined);
  for (std::string item; std::getline(in, item, '\\');)
    if (!item.empty()) items.insert(item);
  if (!items.insert(value).second) return false;
  joined.clear();
  for (const auto& item : items) joined += (joined.empty() ? "" : "\\") + item;
  return true;
}

StoredInstance read_stored(const sql::Row& r) {
  return StoredInstance{r.text(0),
                        r.text(1),
                        r.text(2),
                        r.text(3),
                        r.text(4),
                        r.text(5),
                        static_cast<std::uint64_t>(r.integer(6)),
                        r.text(7)};
}

constexpr std::string_view kStoredInstanceSelect =
    "SELECT i.sop_uid, i.sop_class, st.study_uid, se.series_uid, i.transfer_syntax, i.path, "
    "i.size_bytes, i.checksum FROM instances i JOIN series se ON se.pk = i.series_pk "
    "JOIN studies st ON st.pk = se.study_pk";

class SqlIndex final : public Index {
 public:
  SqlIndex(std::function<std::unique_ptr<sql::Connection>()> factory, std::string description,
           unsigned parallel_writers, WorkflowPolicy workflow)
      : pool_(std::move(factory)),
        description_(std::move(description)),
        parallel_writers_(parallel_writers),
        workflow_(workflow) {
    // One writer at a time (SQLite): concurrent HL7 messages share a commit rather than queue.
    if (parallel_writers_ == 1)
      shared_ = std::make_unique<SharedTransaction>(
          [this](const SharedTransaction::Write& batch) { return guarded(batch); });
  }

  // Queries (find) may be answered by a streaming replica of the PostgreSQL primary.
  void use_replica(std::function<std::unique_ptr<sql::Connection>()> factory,
                   const std::string& description) {
    replica_ = std::make_unique<ConnectionPool>(std::move(factory));
    description_ += ", queries from the replica " + description;
  }

  Result<void> initialise() {
    return guarded([&](sql::Connection& c) {
      version_ = migrate(c);
      return Result<void>{};
    });
  }

  Result<std::vector<WriteResult>> write_batch(std::span<const IndexWrite> writes) override {
    // A serialization failure or deadlock (PostgreSQL, several writers) is retried as a unit.
    constexpr int kAttempts = 5;
    for (int attempt = 1;; ++attempt) {
      auto result = guarded([&](sql::Connection& c) -> Result<std::vector<WriteResult>> {
        sql::Transaction tx(c);
        lock_patients(c, writes);
        std::vector<WriteResult> results;
        results.reserve(writes.size());
        std::set<std::string> studies;
        for (const IndexWrite& w : writes) {
          results.push_back(write_one(c, w));
          if (results.back().outcome != WriteOutcome::AlreadyExists)
            studies.insert(w.entry.study.study_uid.str());
        }
        // The studies that got an instance are active again: once per study per batch.
        for (const std::string& study : studies) sql_outbox::touch_study(c, study);
        tx.commit();
        return results;
      });
      if (result || result.error().code != ErrorCode::Conflict || attempt == kAttempts)
        return result;
      std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt));
    }
  }

  Result<void> forget_instance(const std::string& sop_uid, const std::string& path) override {
    return guarded([&](sql::Connection& c) -> Result<void> {
      sql::Transaction tx(c);
      const Value key[] = {sop_uid, path};
      auto rows =
          c.query("SELECT pk, series_pk FROM instances WHERE sop_uid = ? AND path = ?", key);
      if (!rows.empty()) remove_instance(c, rows[0].integer(0), rows[0].integer(1));
      tx.commit();
      return {};
    });
  }

  Result<RemovedObjects> remove_objects(const RemovalTarget& target,
                                        const RemovalOrder& order) override {
    return guarded([&](sql::Connection& c) -> Result<RemovedObjects> {
      sql::Transaction tx(c);
      auto removed = sql_removal::remove_objects(c, target, order);
      if (removed) tx.commit();
      return removed;
    });
  }

  Result<std::vector<PendingPurge>> due_purges(std::int64_t now_ms, std::size_t limit) override {
    return guarded([&](sql::Connection& c) -> Result<std::vector<PendingPurge>> {
      return sql_removal::due_purges(c, now_ms, limit);
    });
  }

  Result<std::vector<AgedStudy>> studies_oldest_first(const std::string& before_date,
                                                      std::size_t limit) override {
    return guarded([&](sql::Connection& c) -> Result<std::vector<AgedStudy>> {
      return sql_removal::studies_oldest_first(c, before_date, limit);
    });
  }

  Result<std::optional<std::int64_t>> next_purge_due() override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<std::int64_t>> {
      return sql_removal::next_purge_due(c);
    });
  }

  Result<void> forget_purges(std::span<const std::int64_t> ids) override {
    return guarded([&](sql::Connection& c) -> Result<void> {
      sql::Transaction tx(c);
      for (const std::int64_t id : ids) sql_removal::forget_purge(c, id);
      tx.commit();
      return {};
    });
  }

  Result<std::vector<QueueItem>> claim_queue_items(std::int64_t now, std::size_t limit,
                                                   const ClaimPolicy& claim) override {
    auto keys = guarded([&](sql::Connection& c) -> Result<std::vector<std::int64_t>> {
      return sql_claims::claim_due(c, "outbound_queue", now, limit, claim);
    });
    if (!keys) return tl::unexpected(keys.error());
    if (keys->empty()) return std::vector<QueueItem>{};
    const std::vector<Value> params(keys->begin(), keys->end());
    return queue_query("WHERE q.pk IN (" + sql::placeholders(params.size()) + ") ORDER BY q.pk",
                       params);
  }

  Result<std::size_t> release_claims(const std::string& node) override {
    return guarded(
        [&](sql::Connection& c) -> Result<std::size_t> { return sql_claims::release(c, node); });
  }

  Result<std::size_t> renew_leases(const ClaimPolicy& claim, std::int64_t now) override {
    return guarded([&](sql::Connection& c) -> Result<std::size_t> {
      return sql_claims::renew(c, claim, now);
    });
  }

  Result<std::vector<QueueItem>> queue_items(const std::string& state, std::size_t limit) override {
    const Value params[] = {state, state, static_cast<std::int64_t>(limit)};
    return queue_query("WHERE (? = '' OR q.state = ?) ORDER BY q.pk DESC LIMIT ?", params);
  }

  Result<std::optional<QueueItem>> queue_item(std::int64_t id) override {
    const Value params[] = {id};
    auto items = queue_query("WHERE q.pk = ?", params);
    if (!items) return tl::unexpected(items.error());
    if (items->empty()) return std::optional<QueueItem>{};
    return std::optional(std::move(items->front()));
  }

  Result<std::map<std::string, std::int64_t>> queue_counts() override {
    return guarded([&](sql::Connection& c) -> Result<std::map<std::string, std::int64_t>> {
      std::map<std::string, std::int64_t> out;
      for (const auto& r : c.query("SELECT state, COUNT(*) FROM outbound_queue GROUP BY state"))
        out[r.text(0)] = r.integer(1);
      return out;
    });
  }

  Result<void> update_queue_item(std::int64_t id, const std::string& state,
                                 std::int64_t next_attempt, const std::string& error,
                                 std::int64_t now) override {
    return guarded([&](sql::Connection& c) -> Result<void> {
      const Value params[] = {state, next_attempt, error, now, id};
      c.query(
          "UPDATE outbound_queue SET state = ?, attempts = attempts + 1, next_attempt_ms = ?, "
          "last_error = ?, updated_ms = ?, " +
              std::string(sql_claims::kEndClaim) + " WHERE pk = ?",
          params);
      return {};
    });
  }

  Result<std::vector<StoredInstance>> latest_instances(std::size_t limit) override {
    return guarded([&](sql::Connection& c) -> Result<std::vector<StoredInstance>> {
      std::vector<StoredInstance> out;
      const Value params[] = {static_cast<std::int64_t>(limit)};
      for (const auto& r :
           c.query(std::string(kStoredInstanceSelect) + " ORDER BY i.pk DESC LIMIT ?", params))
        out.push_back(read_stored(r));
      return out;
    });
  }

  Result<void> find(const FindQuery& query, std::size_t limit,
                    const std::function<bool(const FindRow&)>& on_row) override {
    const CompiledFind compiled = compile_find(query, limit);
    const std::vector<Value> params(compiled.params.begin(), compiled.params.end());
    auto answered = from_replica(compiled.sql, params);
    auto rows = answered ? std::move(*answered)
                         : guarded([&](sql::Connection& c) -> Result<std::vector<sql::Row>> {
                             return c.query(compiled.sql, params);
                           });
    if (!rows) return tl::unexpected(rows.error());
    for (const sql::Row& r : *rows) {
      FindRow row{r.blob(0),    r.blob(1),     r.blob(2),    r.blob(3),    r.integer(4),
                  r.integer(5), r.integer(6),  r.integer(7), r.integer(8), r.text(9),
                  r.text(10),   r.integer(12), r.text(11),   r.text(13),   r.text(14),
                  r.text(15),   r.text(16),    r.text(17),   r.text(18),   r.integer(19) != 0};
      if (!on_row(row)) break;
    }
    return {};
  }

  Result<std::optional<StoredInstance>> find_instance(const std::string& sop_uid) override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<StoredInstance>> {
      const Value params[] = {sop_uid};
      auto rows = c.query(std::string(kStoredInstanceSelect) + " WHERE i.sop_uid = ?", params);
      if (rows.empty()) return std::optional<StoredInstance>{};
      return read_stored(rows[0]);
    });
  }

  Result<std::vector<StoredInstance>> all_instances() override {
    return guarded([&](sql::Connection& c) -> Result<std::vector<StoredInstance>> {
      std::vector<StoredInstance> out;
      for (const auto& r : c.query(std::string(kStoredInstanceSelect) + " ORDER BY i.pk"))
        out.push_back(read_stored(r));
      return out;
    });
  }

  Result<IndexCounts> counts() override {
    return guarded([&](sql::Connection& c) -> Result<IndexCounts> {
      auto r = c.query(
          "SELECT (SELECT COUNT(*) FROM patients), (SELECT COUNT(*) FROM studies), "
          "(SELECT COUNT(*) FROM series), (SELECT COUNT(*) FROM instances)");
      return IndexCounts{r[0].integer(0), r[0].integer(1), r[0].integer(2), r[0].integer(3)};
    });
  }

  Result<void> set_instance_checksum(const std::string& sop_uid, const std::string& path,
                                     const std::string& checksum) override {
    return guarded([&](sql::Connection& c) -> Result<void> {
      const Value params[] = {checksum, sop_uid, path};
      c.query("UPDATE instances SET checksum = ? WHERE sop_uid = ? AND path = ?", params);
      return {};
    });
  }

  Result<std::vector<CountMismatch>> verify_counts(bool repair) override {
    return guarded([&](sql::Connection& c) -> Result<std::vector<CountMismatch>> {
      sql::Transaction tx(c);
      auto found = sql_consistency::verify_counts(c, repair);
      tx.commit();
      return found;
    });
  }

  Result<std::optional<StudySummary>> study_summary(const std::string& study_uid) override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<StudySummary>> {
      const Value params[] = {study_uid};
      auto rows = c.query(
          "SELECT st.study_uid, p.patient_id, st.num_series, st.num_instances, st.modalities, "
          "st.sop_classes FROM studies st JOIN patients p ON p.pk = st.patient_pk "
          "WHERE st.study_uid = ?",
          params);
      if (rows.empty()) return std::optional<StudySummary>{};
      const auto& r = rows[0];
      return StudySummary{r.text(0), r.text(1), r.integer(2), r.integer(3), r.text(4), r.text(5)};
    });
  }

  Result<std::optional<OrderRecord>> find_order(const std::string& placer_order,
                                                const std::string& filler_order) override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<OrderRecord>> {
      auto pk = sql_workflow::order_pk(c, placer_order, filler_order);
      if (!pk) return std::optional<OrderRecord>{};
      const Value params[] = {*pk};
      auto rows = c.query(
          "SELECT placer_order, filler_order, accession_number, requested_procedure_id, "
          "study_uid, patient_id, issuer, patient_name, "
          "COALESCE((SELECT l.study_uid FROM study_links l WHERE l.order_pk = o.pk "
          "AND l.state = 'linked' ORDER BY l.updated_ms DESC, l.pk DESC LIMIT 1), '') "
          "FROM orders o WHERE o.pk = ?",
          params);
      const auto& r = rows.at(0);
      OrderRecord order{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4),
                        r.text(5), r.text(6), r.text(7), {}};
      order.linked_study_uid = r.text(8);
      return order;
    });
  }

  Result<void> apply_orders(std::span<const OrderChange> changes,
                            const MessageRecord& message) override {
    return in_shared_transaction([&](sql::Connection& c) -> Result<void> {
      if (!sql_workflow::insert_message(c, message))
        return fail(ErrorCode::Duplicate, "message " + message.control_id + " seen before");
      for (const OrderChange& change : changes)
        if (auto applied = sql_workflow::apply_order(c, change, workflow_); !applied)
          return applied;
      return {};
    });
  }

  Result<void> apply_patient_change(const PatientChange& change,
                                    const MessageRecord& message) override {
    return in_shared_transaction([&](sql::Connection& c) -> Result<void> {
      if (!sql_workflow::insert_message(c, message))
        return fail(ErrorCode::Duplicate, "message " + message.control_id + " seen before");
      return sql_workflow::apply_patient_change(c, change, "hl7 " + message.sender);
    });
  }

  Result<MergeRecord> merge_patients(const PatientChange& change, const std::string& actor,
                                     bool apply) override {
    return guarded([&](sql::Connection& c) -> Result<MergeRecord> {
      sql::Transaction tx(c);  // a preview rolls back
      sql_workflow::lock_patient(c, change.patient_id, change.issuer_of_patient_id);
      sql_workflow::lock_patient(c, change.prior_patient_id, change.prior_issuer_of_patient_id);
      auto merged = sql_patients::merge(c, change, actor);
      if (merged && apply && !merged->already_applied) {
        sql_workflow::audit(c, actor, "merge", change.prior_patient_id,
                            "merged into Patient ID " + change.patient_id + " (merge " +
                                std::to_string(merged->id) + ")");
        tx.commit();
      }
      if (merged && !apply) merged->id = 0;  // the preview's journal row went with the rollback
      return merged;
    });
  }

  Result<MergeRecord> unmerge_patients(std::int64_t merge_id, const std::string& actor) override {
    return guarded([&](sql::Connection& c) -> Result<MergeRecord> {
      sql::Transaction tx(c);
      auto undone = sql_patients::unmerge(c, merge_id, actor);
      if (undone) tx.commit();
      return undone;
    });
  }

  Result<void> record_worklist_query(const std::vector<std::string>& accession_numbers,
                                     const std::string& calling_ae,
                                     std::int64_t answered_ms) override {
    return in_transaction([&](sql::Connection& c) -> Result<void> {
      for (const std::string& accession : accession_numbers) {
        const Value key[] = {accession};
        // MAX, not ORDER BY pk DESC LIMIT 1: PostgreSQL would walk the primary key backwards.
        for (const auto& r : c.query(
                 "SELECT MAX(pk) FROM orders WHERE accession_number = ? HAVING COUNT(*) > 0", key))
          sql_timeline::record_once(c, r.integer(0), "", step::kWorklistQueried, calling_ae,
                                    answered_ms);
      }
      return {};
    });
  }

  Result<std::optional<Timeline>> timeline(const std::string& accession_number) override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<Timeline>> {
      return sql_timeline::timeline(c, accession_number);
    });
  }

  Result<std::vector<MergeRecord>> patient_merges(std::size_t limit) override {
    return guarded([&](sql::Connection& c) -> Result<std::vector<MergeRecord>> {
      return sql_patients::merges(c, limit);
    });
  }

  Result<std::vector<StudyLink>> study_links(const std::string& state, std::size_t limit) override {
    return guarded([&](sql::Connection& c) -> Result<std::vector<StudyLink>> {
      return sql_workflow::study_links(c, state, limit);
    });
  }

  Result<void> link_study(const std::string& study_uid, const std::string& placer_order,
                          const std::string& filler_order, const std::string& actor) override {
    return guarded([&](sql::Connection& c) -> Result<void> {
      sql::Transaction tx(c);
      if (auto linked =
              sql_workflow::link_study(c, study_uid, placer_order, filler_order, actor, workflow_);
          !linked)
        return linked;
      tx.commit();
      return {};
    });
  }

  Result<void> link_study_to_patient(const std::string& study_uid, const std::string& patient_id,
                                     const std::string& issuer_of_patient_id,
                                     const std::string& actor) override {
    return guarded([&](sql::Connection& c) -> Result<void> {
      sql::Transaction tx(c);
      if (auto linked = sql_workflow::link_study_to_patient(c, study_uid, patient_id,
                                                            issuer_of_patient_id, actor);
          !linked)
        return linked;
      tx.commit();
      return {};
    });
  }

  Result<ReconciliationFacts> reconciliation_facts(std::size_t limit) override {
    return guarded([&](sql::Connection& c) -> Result<ReconciliationFacts> {
      return sql_reconciliation::facts(c, limit);
    });
  }

  Result<void> resolve_identity_conflict(std::int64_t id, const std::string& actor,
                                         const std::string& note) override {
    return in_transaction([&](sql::Connection& c) {
      return sql_reconciliation::resolve_conflict(c, id, actor, note);
    });
  }

  Result<void> split_study(const std::string& study_uid, const PatientFacts& to,
                           const std::string& actor) override {
    return in_transaction([&](sql::Connection& c) {
      return sql_reconciliation::split_study(c, study_uid, to, actor);
    });
  }

  Result<void> create_mpps(const MppsRecord& mpps,
                           const std::vector<std::string>& notify) override {
    return in_transaction(
        [&](sql::Connection& c) { return sql_workflow::create_mpps(c, mpps, notify); });
  }

  Result<std::optional<MppsRecord>> find_mpps(const std::string& sop_instance_uid) override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<MppsRecord>> {
      return sql_workflow::find_mpps(c, sop_instance_uid);
    });
  }

  Result<void> update_mpps(const MppsRecord& mpps,
                           const std::vector<std::string>& notify) override {
    return in_transaction(
        [&](sql::Connection& c) { return sql_workflow::update_mpps(c, mpps, notify); });
  }

  Result<std::size_t> complete_quiet_studies(std::int64_t quiet_before_ms,
                                             const std::vector<std::string>& notify,
                                             std::size_t limit) override {
    return guarded([&](sql::Connection& c) -> Result<std::size_t> {
      sql::Transaction tx(c);
      const std::size_t n = sql_outbox::complete_quiet_studies(c, quiet_before_ms, notify, limit);
      tx.commit();
      return n;
    });
  }

  Result<std::vector<OutboxItem>> claim_outbox(std::int64_t now, std::size_t limit,
                                               const ClaimPolicy& claim) override {
    return guarded([&](sql::Connection& c) -> Result<std::vector<OutboxItem>> {
      const auto keys = sql_claims::claim_due(c, "hl7_outbox", now, limit, claim);
      if (keys.empty()) return std::vector<OutboxItem>{};
      return sql_outbox::items(c,
                               "WHERE pk IN (" + sql::placeholders(keys.size()) + ") ORDER BY pk",
                               std::vector<Value>(keys.begin(), keys.end()), limit);
    });
  }

  Result<std::vector<OutboxItem>> outbox_items(const std::string& state,
                                               std::size_t limit) override {
    return guarded([&](sql::Connection& c) -> Result<std::vector<OutboxItem>> {
      if (state.empty()) return sql_outbox::items(c, "ORDER BY pk DESC", {}, limit);
      return sql_outbox::items(c, "WHERE state = ? ORDER BY pk DESC", {Value{state}}, limit);
    });
  }

  Result<std::optional<OutboxItem>> outbox_item(std::int64_t id) override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<OutboxItem>> {
      auto items = sql_outbox::items(c, "WHERE pk = ?", {Value{id}}, 1);
      if (items.empty()) return std::optional<OutboxItem>{};
      return std::optional(std::move(items.front()));
    });
  }

  Result<std::map<std::string, std::int64_t>> outbox_counts() override {
    return guarded([&](sql::Connection& c) -> Result<std::map<std::string, std::int64_t>> {
      return sql_outbox::counts(c);
    });
  }

  Result<std::map<std::string, std::int64_t>> oldest_pending_ms() override {
    return guarded([&](sql::Connection& c) -> Result<std::map<std::string, std::int64_t>> {
      std::map<std::string, std::int64_t> out;
      const std::pair<const char*, const char*> queues[] = {
          {"forwarding", "SELECT MIN(created_ms) FROM outbound_queue WHERE state = 'pending'"},
          {"hl7", "SELECT MIN(created_ms) FROM hl7_outbox WHERE state = 'pending'"}};
      for (auto [name, sql] : queues)
        for (const auto& r : c.query(sql))
          if (!r.is_null(0)) out[name] = r.integer(0);
      return out;
    });
  }

  Result<void> update_outbox(std::int64_t id, const std::string& state,
                             std::int64_t next_attempt_ms, const std::string& error) override {
    return in_transaction([&](sql::Connection& c) -> Result<void> {
      sql_outbox::update(c, id, state, next_attempt_ms, error);
      return {};
    });
  }

  Result<void> edit_outbox_message(std::int64_t id, const std::string& message,
                                   const std::string& actor) override {
    return in_transaction([&](sql::Connection& c) -> Result<void> {
      const auto items = sql_outbox::items(c, "WHERE pk = ?", {Value{id}}, 1);
      if (items.empty()) return fail(ErrorCode::NotFound, "no such outbox item");
      if (items.front().state == "sent")
        return fail(ErrorCode::Duplicate, "outbox item " + std::to_string(id) + " was sent");
      const Value params[] = {message, wall_clock_ms(), id};
      c.query("UPDATE hl7_outbox SET message = ?, updated_ms = ? WHERE pk = ?", params);
      sql_workflow::audit(
          c, actor, "edit", "outbox #" + std::to_string(id),
          "message edited (" + std::to_string(message.size()) + " bytes, " +
              (items.front().edited_message.empty() ? "first edit" : "edited before") + ")");
      return {};
    });
  }

  Result<std::optional<StudyFacts>> study_facts(const std::string& study_uid) override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<StudyFacts>> {
      return sql_outbox::study_facts(c, study_uid);
    });
  }

  Result<std::optional<ReportRecord>> find_report(const std::string& study_uid) override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<ReportRecord>> {
      return sql_workflow::find_report(c, study_uid);
    });
  }

  Result<std::string> save_report(const ReportRecord& report,
                                  const MessageRecord& message) override {
    return guarded([&](sql::Connection& c) -> Result<std::string> {
      sql::Transaction tx(c);
      if (!sql_workflow::insert_message(c, message))
        return fail(ErrorCode::Duplicate, "message " + message.control_id + " seen before");
      std::string replaced = sql_workflow::save_report(c, report);
      tx.commit();
      return replaced;
    });
  }

  Result<void> record_message(const MessageRecord& message) override {
    return in_transaction([&](sql::Connection& c) -> Result<void> {
      if (!sql_workflow::insert_message(c, message))
        return fail(ErrorCode::Duplicate, "message " + message.control_id + " seen before");
      return {};
    });
  }

  Result<std::optional<std::string>> recorded_ack(const std::string& sender,
                                                  const std::string& control_id) override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<std::string>> {
      const Value params[] = {sender, control_id};
      auto rows =
          c.query("SELECT ack FROM hl7_messages WHERE sender = ? AND control_id = ?", params);
      if (rows.empty()) return std::optional<std::string>{};
      return std::optional<std::string>{rows[0].text(0)};
    });
  }

  Result<std::vector<LoggedMessage>> logged_messages(const std::string& control_id,
                                                     const std::string& state,
                                                     std::size_t limit) override {
    return guarded([&](sql::Connection& c) -> Result<std::vector<LoggedMessage>> {
      std::string sql =
          "SELECT sender, control_id, message_type, ack_code, ack, received_ms, pk, state "
          "FROM hl7_messages WHERE 1 = 1";
      std::vector<Value> params;
      if (!control_id.empty()) {
        sql += " AND control_id = ?";
        params.push_back(control_id);
      }
      if (!state.empty()) {
        sql += " AND state = ?";
        params.push_back(state);
      }
      std::vector<LoggedMessage> out;
      for (const auto& r :
           c.query(sql + " ORDER BY pk DESC LIMIT " + std::to_string(limit), params))
        out.push_back({{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4)},
                       r.integer(5),
                       r.integer(6),
                       r.text(7)});
      return out;
    });
  }

  Result<std::optional<LoggedMessage>> logged_message(std::int64_t id) override {
    return guarded([&](sql::Connection& c) -> Result<std::optional<LoggedMessage>> {
      const Value key[] = {id};
      const auto rows = c.query(
          "SELECT sender, control_id, message_type, ack_code, ack, received_ms, pk, state, "
          "message FROM hl7_messages WHERE pk = ?",
          key);
      if (rows.empty()) return std::optional<LoggedMessage>{};
      const auto& r = rows[0];
      return std::optional(
          LoggedMessage{{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(8)},
                        r.integer(5),
                        r.integer(6),
                        r.text(7)});
    });
  }

  Result<void> edit_logged_message(std::int64_t id, const std::string& message,
                                   const std::string& actor) override {
    return in_transaction([&](sql::Connection& c) -> Result<void> {
      const Value params[] = {message, id};
      const auto edited = c.query(
          "UPDATE hl7_messages SET message = ? WHERE pk = ? AND state = 'dead' RETURNING "
          "control_id",
          params);
      if (edited.empty()) return fail(ErrorCode::NotFound, "no dead letter " + std::to_string(id));
      sql_workflow::audit(c, actor, "edit hl7 message", edited[0].text(0),
                          "dead letter " + std::to_string(id) + " edited before a replay");
      return {};
    });
  }

  Result<std::int64_t> note_inbound_failure(const std::string& sender,
                                            const std::string& control_id,
                                            const std::string& error) override {
    return guarded([&](sql::Connection& c) -> Result<std::int64_t> {
      const Value params[] = {sender, control_id, error, wall_clock_ms()};
      return c
          .query(
              "INSERT INTO hl7_failures (sender, control_id, attempts, last_error, updated_ms) "
              "VALUES (?, ?, 1, ?, ?) ON CONFLICT (sender, control_id) DO UPDATE SET attempts = "
              "hl7_failures.attempts + 1, last_error = excluded.last_error, updated_ms = "
              "excluded.updated_ms RETURNING attempts",
              params)
          .at(0)
          .integer(0);
    });
  }

  int schema_version() override { return version_; }
  unsigned parallel_writers() const override { return parallel_writers_; }
  std::string describe() const override { return description_; }

 private:
  // A query's rows from the replica, when it has replayed everything the primary had written as
  // the query began: whatever any node acknowledged before (a client's own STOW or C-STORE
  // included) is in the answer. Otherwise, or when the replica fails, nullopt (the primary
  // answers).
  std::optional<Result<std::vector<sql::Row>>> from_replica(const std::string& statement,
                                                            std::span<const Value> params) {
    if (!replica_) return std::nullopt;
    static auto& served = metrics::registry().counter(
        "pacsnode_index_queries_total", "Index queries by the server that answered them",
        {{"server", "replica"}});
    static auto& behind =
        metrics::registry().counter("pacsnode_index_queries_total", "", {{"server", "primary"}});
    auto written = guarded([](sql::Connection& c) -> Result<std::string> {
      return c.query("SELECT pg_current_wal_lsn()::text").at(0).text(0);
    });
    if (!written) return std::nullopt;
    try {
      auto lease = replica_->borrow();
      try {
        const Value lsn[] = {*written};
        // NULL (not in recovery: a promoted replica) counts as behind.
        if (lease
                ->query("SELECT CASE WHEN pg_last_wal_replay_lsn() >= CAST(? AS pg_lsn) THEN 1 "
                        "ELSE 0 END",
                        lsn)
                .at(0)
                .integer(0) != 1) {
          behind.add();
          return std::nullopt;
        }
        auto rows = lease->query(statement, params);
        served.add();
        replica_failing_ = false;
        return Result<std::vector<sql::Row>>(std::move(rows));
      } catch (const sql::SqlError&) {
        lease.discard();
        throw;
      }
    } catch (const sql::SqlError& e) {
      if (!replica_failing_.exchange(true))
        PACS_LOG(Warn) << "index replica: " << e.what() << "; queries go to the primary";
      behind.add();
      return std::nullopt;
    }
  }

  // Runs f in a transaction of its own, committed when f succeeds.
  template <typename F>
  Result<void> in_transaction(F&& f) {
    return guarded([&](sql::Connection& c) -> Result<void> {
      sql::Transaction tx(c);
      if (auto done = f(c); !done) return done;
      tx.commit();
      return {};
    });
  }

  // Runs f in a transaction, shared with the writes of other callers where the database has one
  // writer at a time (shared_transaction.h), else in one of its own.
  Result<void> in_shared_transaction(SharedTransaction::Write f) {
    if (shared_) return shared_->run(std::move(f));
    return in_transaction(f);
  }

  // Runs f on a borrowed connection and turns driver exceptions into Error values.
  template <typename F>
  auto guarded(F&& f) -> decltype(f(std::declval<sql::Connection&>())) {
    try {
      auto lease = pool_.borrow();
      try {
        return f(*lease);
      } catch (const sql::SqlError& e) {
        if (!e.transient()) lease.discard();
        throw;
      }
    } catch (const sql::SqlError& e) {
      switch (e.kind()) {
        case sql::SqlFailure::Transient:
          return fail(ErrorCode::Conflict, e.what());
        case sql::SqlFailure::DiskFull:
          return fail(ErrorCode::StorageFull, e.what());
        case sql::SqlFailure::ConnectionLost:
          pool_.drop_idle();  // they went with the same server
          return fail(ErrorCode::IndexUnavailable, e.what());
        case sql::SqlFailure::Statement:
          break;
      }
      return fail(ErrorCode::IndexUnavailable, e.what());
    }
  }

  // PostgreSQL: writers of one patient's rows take turns, in one global order, so that two batches
  // inserting the same new patient, study or series never wait on each other in a cycle. (SQLite
  // has one writer at a time anyway.)
  static void lock_patients(sql::Connection& c, std::span<const IndexWrite> writes) {
    if (c.dialect() != sql::Dialect::Postgresql) return;
    std::set<std::string> keys;
    for (const IndexWrite& w : writes)
      keys.insert(w.entry.patient.patient_id + '\x1f' + w.entry.patient.issuer_of_patient_id);
    for (const std::string& key : keys) {
      const Value params[] = {key};
      c.query("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", params);
    }
  }

  // Returns the pk of the row matched by select, inserting it first if absent; created says which.
  static std::int64_t find_or_insert(sql::Connection& c, const std::string& select,
                                     std::span<const Value> key, const std::string& insert,
                                     std::span<const Value> values, bool& created) {
    created = false;
    if (auto rows = c.query(select, key); !rows.empty()) return rows[0].integer(0);
    if (auto rows = c.query(insert, values); !rows.empty()) {
      created = true;
      return rows[0].integer(0);
    }
    // Another writer inserted it between our select and insert (PostgreSQL); it is there now.
    return c.query(select, key).at(0).integer(0);
  }

  struct Parents {
    std::int64_t patient_pk = 0, study_pk = 0, series_pk = 0;
    bool new_patient = false, new_study = false, new_series = false;
  };

  // The patient, study and series rows of an entry, created where missing. Every instance after
  // the first of a series finds all three with one statement.
  static Parents find_or_create_parents(sql::Connection& c, const IndexEntry& e) {
    Parents p;
    const Value series_key[] = {e.series.series_uid.str()};
    if (auto known = c.query("SELECT se.pk, se.study_pk, st.patient_pk FROM series se "
                             "JOIN studies st ON st.pk = se.study_pk WHERE se.series_uid = ?",
                             series_key);
        !known.empty()) {
      p.series_pk = known[0].integer(0);
      p.study_pk = known[0].integer(1);
      p.patient_pk = known[0].integer(2);
      return p;
    }
    const Value patient_key[] = {e.patient.patient_id, e.patient.issuer_of_patient_id};
    const Value patient_values[] = {e.patient.patient_id,
                                    e.patient.issuer_of_patient_id,
                                    e.patient.name,
                                    person_name_key(e.patient.name),
                                    e.patient.birth_date,
                                    e.patient.sex,
                                    sql::Blob{e.patient.attributes}};
    p.patient_pk = find_or_insert(
        c, "SELECT pk FROM patients WHERE patient_id = ? AND issuer = ?", patient_key,
        "INSERT INTO patients (patient_id, issuer, name, name_key, birth_date, sex, attributes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING pk",
        patient_values, p.new_patient);

    const Value study_key[] = {e.study.study_uid.str()};
    const Value study_values[] = {p.patient_pk,
                                  e.study.study_uid.str(),
                                  e.study.study_date,
                                  e.study.study_time,
                                  e.study.accession_number,
                                  e.study.study_id,
                                  e.study.referring_physician,
                                  person_name_key(e.study.referring_physician),
                                  e.study.description,
                                  sql::Blob{e.study.attributes}};
    p.study_pk = find_or_insert(
        c, "SELECT pk FROM studies WHERE study_uid = ?", study_key,
        "INSERT INTO studies (patient_pk, study_uid, study_date, study_time, accession_number, "
        "study_id, referring_physician, referring_key, description, attributes) VALUES (?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING pk",
        study_values, p.new_study);

    const Value series_values[] = {p.study_pk,           e.series.series_uid.str(),
                                   e.series.modality,    e.series.series_number,
                                   e.series.description, sql::Blob{e.series.attributes}};
    p.series_pk = find_or_insert(
        c, "SELECT pk FROM series WHERE series_uid = ?", series_key,
        "INSERT INTO series (study_pk, series_uid, modality, series_number, description, "
        "attributes) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING pk",
        series_values, p.new_series);
    return p;
  }

  WriteResult write_one(sql::Connection& c, const IndexWrite& w) {
    const IndexEntry& e = w.entry;
    const Parents p = find_or_create_parents(c, e);

    WriteResult result;
    if (w.replace_existing) {
      const Value sop_key[] = {e.instance.sop_instance_uid.str()};
      auto existing =
          c.query("SELECT pk, series_pk, path FROM instances WHERE sop_uid = ?", sop_key);
      if (!existing.empty()) {
        result = WriteResult{WriteOutcome::Replaced, existing[0].text(2)};
        remove_instance(c, existing[0].integer(0), existing[0].integer(1));
      }
    }

    const Value instance_values[] = {p.series_pk,
                                     e.instance.sop_instance_uid.str(),
                                     e.instance.sop_class_uid.str(),
                                     e.instance.instance_number,
                                     e.instance.transfer_syntax,
                                     e.instance.relative_path,
                                     static_cast<std::int64_t>(e.instance.size_bytes),
                                     e.instance.checksum,
                                     sql::Blob{e.instance.attributes}};
    auto inserted = c.query(
        "INSERT INTO instances (series_pk, sop_uid, sop_class, instance_number, transfer_syntax, "
        "path, size_bytes, checksum, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING RETURNING pk",
        instance_values);
    // Already indexed (by an earlier arrival, or a concurrent writer that got there first): the
    // row that is there stands.
    if (inserted.empty()) return WriteResult{WriteOutcome::AlreadyExists, {}};
    // A study's first instance links it to its order, in the same transaction (see
    // sql_workflow::reconcile_new_study).
    if (p.new_study) {
      // A known patient's new study with other demographics: someone should look.
      if (!p.new_patient)
        sql_reconciliation::note_study_patient(
            c, p.patient_pk, e.study.study_uid.str(),
            {e.patient.patient_id, e.patient.issuer_of_patient_id, e.patient.name,
             e.patient.birth_date, e.patient.sex});
      sql_workflow::reconcile_new_study(c, e.study.study_uid.str(), e.study.accession_number,
                                        e.patient.patient_id, e.patient.issuer_of_patient_id,
                                        workflow_);
    }

    const std::int64_t now = now_ms();
    for (const std::string& destination : w.forward_to) {
      const Value queued[] = {destination, e.instance.sop_instance_uid.str(), now, now};
      c.query(
          "INSERT INTO outbound_queue (destination, sop_uid, created_ms, updated_ms) "
          "VALUES (?, ?, ?, ?)",
          queued);
    }

    const Value patient_pk_param[] = {p.patient_pk};
    c.query(std::string("UPDATE patients SET num_instances = num_instances + 1") +
                (p.new_study ? ", num_studies = num_studies + 1" : "") +
                (p.new_series ? ", num_series = num_series + 1" : "") + " WHERE pk = ?",
            patient_pk_param);
    const Value series_pk_param[] = {p.series_pk};
    c.query("UPDATE series SET num_instances = num_instances + 1 WHERE pk = ?", series_pk_param);

    // The counting UPDATE locks the study row before its sets are read back, so two writers adding
    // different modalities to one study cannot lose one; the sets change rarely (a new series or
    // SOP class) and only then are written.
    const Value study_counts[] = {std::int64_t{p.new_series ? 1 : 0}, p.study_pk};
    auto study = c.query(
        "UPDATE studies SET num_series = num_series + ?, num_instances = num_instances + 1 "
        "WHERE pk = ? RETURNING modalities, sop_classes",
        study_counts);
    std::string modalities = study.at(0).text(0), sop_classes = study.at(0).text(1);
    const bool modalities_changed = add_to_set(modalities, e.series.modality);
    const bool sop_classes_changed = add_to_set(sop_classes, e.instance.sop_class_uid.str());
    if (modalities_changed || sop_classes_changed) {
      const Value study_sets[] = {modalities, sop_classes, p.study_pk};
      c.query("UPDATE studies SET modalities = ?, sop_classes = ? WHERE pk = ?", study_sets);
    }
    return result;
  }

  Result<std::vector<QueueItem>> queue_query(const std::string& where,
                                             std::span<const Value> params) {
    return guarded([&](sql::Connection& c) -> Result<std::vector<QueueItem>> {
      std::vector<QueueItem> out;
      for (const auto& r : c.query(
               "SELECT q.pk, q.destination, q.sop_uid, q.state, q.attempts, q.next_attempt_ms, "
               "q.last_error, COALESCE(i.sop_class, ''), COALESCE(i.transfer_syntax, ''), "
               "COALESCE(i.path, '') FROM outbound_queue q LEFT JOIN instances i ON i.sop_uid = "
               "q.sop_uid " +
                   where,
               params))
        out.push_back({r.integer(0), r.text(1), r.text(2), r.text(3), r.integer(4), r.integer(5),
                       r.text(6), r.text(7), r.text(8), r.text(9)});
      return out;
    });
  }

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // Removes one instance row and takes it out of the counts above it.
  static void remove_instance(sql::Connection& c, std::int64_t instance_pk,
                              std::int64_t series_pk) {
    const Value instance_param[] = {instance_pk};
    c.query("DELETE FROM instances WHERE pk = ?", instance_param);
    const Value series_param[] = {series_pk};
    c.query("UPDATE series SET num_instances = num_instances - 1 WHERE pk = ?", series_param);
    c.query(
        "UPDATE studies SET num_instances = num_instances - 1 WHERE pk = "
        "(SELECT study_pk FROM series WHERE pk = ?)",
        series_param);
    c.query(
        "UPDATE patients SET num_instances = num_instances - 1 WHERE pk = (SELECT st.patient_pk "
        "FROM series se JOIN studies st ON st.pk = se.study_pk WHERE se.pk = ?)",
        series_param);
    // The instance may have been its study's last of a SOP class.
    const auto study = c.query("SELECT study_pk FROM series WHERE pk = ?", series_param);
    if (!study.empty()) sql_consistency::refresh_study_sets(c, study[0].integer(0));
  }

  ConnectionPool pool_;
  std::unique_ptr<ConnectionPool> replica_;   // null: the primary answers everything
  std::atomic<bool> replica_failing_{false};  // warned once until it answers again
  std::string description_;
  unsigned parallel_writers_;
  WorkflowPolicy workflow_;
  int version_ = 0;
  std::unique_ptr<SharedTransaction> shared_;  // one writer at a time (SQLite) only
};

std::string redact_password(const std::string& url) {
  // postgresql://user:secret@host -> postgresql://user:***@host
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  const auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace

Result<std::unique_ptr<Index>> Index::open(const std::string& url,
                                           const std::filesystem::path& data_dir,
                                           WorkflowPolicy workflow,
                                           const std::string& replica_url) {
  std::function<std::unique_ptr<sql::Connection>()> factory;
  std::string description;
  unsigned parallel_writers = 1;
  if (url == "sqlite" || url.rfind("sqlite:", 0) == 0) {
    const std::filesystem::path path =
        url == "sqlite" ? data_dir / "index.sqlite" : std::filesystem::path(url.substr(7));
    factory = [path] { return sql::open_sqlite(path.string()); };
    description = "sqlite:" + path.string();
  } else if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    factory = [url] { return sql::open_postgresql(url); };
    description = redact_password(url);
    parallel_writers = 4;
  } else {
    return fail(ErrorCode::InvalidArgument,
                "unknown database URL '" + url + "' (use sqlite, sqlite:PATH or postgresql://...)");
  }
  auto index =
      std::make_unique<SqlIndex>(std::move(factory), description, parallel_writers, workflow);
  if (!replica_url.empty()) {
    if (parallel_writers == 1 ||
        (replica_url.rfind("postgresql://", 0) != 0 && replica_url.rfind("postgres://", 0) != 0))
      return fail(ErrorCode::InvalidArgument,
                  "a query replica needs a PostgreSQL index and a postgresql:// URL");
    index->use_replica([replica_url] { return sql::open_postgresql(replica_url); },
                       redact_password(replica_url));
  }
  if (auto ready = index->initialise(); !ready)
    return fail(ready.error().code,
                "cannot open index " + description + ": " + ready.error().message);
  return index;
}

}  // namespace pacs
