// The index of patients, studies, series and instances, in domain terms: no SQL leaks out.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "storage/find.h"
#include "storage/model/merge.h"
#include "storage/model/orders.h"
#include "storage/model/reconciliation.h"
#include "storage/model/records.h"
#include "storage/model/removal.h"
#include "storage/model/result.h"
#include "storage/model/timeline.h"

namespace pacs {

struct IndexWrite {
  IndexEntry entry;
  // Replace the row of an instance already indexed under the same SOP Instance UID (the
  // "overwrite" duplicate policy); otherwise an existing row is left alone.
  bool replace_existing = false;
  // Destinations (AE titles) to forward the instance to: queued in the same transaction, so an
  // acknowledged instance is never stored without its forwarding.
  std::vector<std::string> forward_to = {};
};

// One instance waiting to go (or gone, or given up) to one destination.
struct QueueItem {
  std::int64_t id = 0;
  std::string destination, sop_instance_uid;
  std::string state;  // pending, sent, failed
  std::int64_t attempts = 0, next_attempt_ms = 0;
  std::string last_error;
  // From the instance row: what to send.
  std::string sop_class_uid, transfer_syntax, relative_path;
};

// Who takes work from the queues several nodes may share (one PostgreSQL index), and for how
// long an item it claimed stays its own without news: past the lease, the node is taken for dead
// (or stalled) and any node may claim the item. A node renews the leases of what it is working on
// (renew_leases) well within the lease.
struct ClaimPolicy {
  std::string node = "pacsnode";
  std::int64_t lease_ms = 30000;
};

enum class WriteOutcome { Inserted, Replaced, AlreadyExists };

struct WriteResult {
  WriteOutcome outcome = WriteOutcome::Inserted;
  std::string replaced_path;  // the file the old row pointed to, for Replaced
};

// A count or set the index keeps for an entity (for queries) that disagrees with the rows below.
struct CountMismatch {
  std::string entity;  // "study UID", "series UID", or "patient #row" (no patient data)
  std::string field;   // the column: num_instances, modalities...
  std::string recorded, actual;
};

class Index {
 public:
  virtual ~Index() = default;

  // "sqlite" (a file in the data directory), "sqlite:PATH", or "postgresql://user@host:port/db".
  // Opens or creates the database and applies pending schema migrations. replica_url: a
  // PostgreSQL streaming replica of it that answers find() when it has caught up ("" for none).
  static Result<std::unique_ptr<Index>> open(const std::string& url,
                                             const std::filesystem::path& data_dir,
                                             WorkflowPolicy workflow = {},
                                             const std::string& replica_url = "");

  // Writes all entries in one transaction: either every result is returned, or nothing changed.
  virtual Result<std::vector<WriteResult>> write_batch(std::span<const IndexWrite> writes) = 0;

  // Removes an instance row (and takes it out of the counts) if it still points at that file.
  virtual Result<void> forget_instance(const std::string& sop_uid,
                                       const std::string& relative_path) = 0;

  virtual Result<std::optional<StoredInstance>> find_instance(const std::string& sop_uid) = 0;
  // Removes a patient, study, series or instance from the index in one transaction (every count
  // and set above kept right; pending forwarding of it dropped) and queues its files for purging
  // after order.purge_after_ms. NotFound when nothing stored matches; InvalidArgument for an
  // empty key or a Patient ID of several authorities without its issuer.
  virtual Result<RemovedObjects> remove_objects(const RemovalTarget& target,
                                                const RemovalOrder& order) = 0;
  // Queued files whose time has come (limit 0: all), and the end of one once its file is gone.
  virtual Result<std::vector<PendingPurge>> due_purges(std::int64_t now_ms, std::size_t limit) = 0;
  virtual Result<void> forget_purges(std::span<const std::int64_t> ids) = 0;
  // When the earliest queued file falls due (nullopt when none is queued).
  virtual Result<std::optional<std::int64_t>> next_purge_due() = 0;
  // Retention: studies whose Study Date sorts before before_date (YYYYMMDD; "99999999" for all),
  // those without a date first, then oldest first, up to limit.
  virtual Result<std::vector<AgedStudy>> studies_oldest_first(const std::string& before_date,
                                                              std::size_t limit) = 0;
  // Calls on_row for each entity matching the query, up to limit (0: no limit), in a stable
  // order, until on_row returns false. Served from the index alone.
  virtual Result<void> find(const FindQuery& query, std::size_t limit,
                            const std::function<bool(const FindRow&)>& on_row) = 0;

  // Claims pending queue items whose next attempt is due (next_attempt_ms <= now_ms), oldest
  // first, for claim.node: items another node holds under a live lease are left to it. The
  // claim ends with update_queue_item.
  virtual Result<std::vector<QueueItem>> claim_queue_items(std::int64_t now_ms, std::size_t limit,
                                                           const ClaimPolicy& claim) = 0;
  // Extends the leases of every unfinished item (queue and outbox) claim.node holds to
  // now_ms + claim.lease_ms; returns how many.
  virtual Result<std::size_t> renew_leases(const ClaimPolicy& claim, std::int64_t now_ms) = 0;
  // Ends every claim a node of this name holds: for a node starting under the name of one that
  // stopped (no two run under one name at once), so its unfinished items are due at once.
  virtual Result<std::size_t> release_claims(const std::string& node) = 0;
  // Every queue item in a state ("" for all), newest first, up to limit.
  virtual Result<std::vector<QueueItem>> queue_items(const std::string& state,
                                                     std::size_t limit) = 0;
  // One queue item by its id; nullopt when there is none.
  virtual Result<std::optional<QueueItem>> queue_item(std::int64_t id) = 0;
  // How many queue items there are in each state.
  virtual Result<std::map<std::string, std::int64_t>> queue_counts() = 0;
  // After an attempt: sent, or failed for now (retry at next_attempt_ms) or for good.
  virtual Result<void> update_queue_item(std::int64_t id, const std::string& state,
                                         std::int64_t next_attempt_ms, const std::string& error,
                                         std::int64_t now_ms) = 0;

  // The most recently written rows, newest first.
  virtual Result<std::vector<StoredInstance>> latest_instances(std::size_t limit) = 0;
  virtual Result<std::vector<StoredInstance>> all_instances() = 0;
  virtual Result<IndexCounts> counts() = 0;
  // For fsck: records the checksum of an instance's file if the row still points at that file.
  virtual Result<void> set_instance_checksum(const std::string& sop_uid,
                                             const std::string& relative_path,
                                             const std::string& checksum) = 0;
  // For fsck: every kept count and set that disagrees with the rows; with repair, each is set to
  // its actual value, all in one transaction.
  virtual Result<std::vector<CountMismatch>> verify_counts(bool repair) = 0;
  virtual Result<std::optional<StudySummary>> study_summary(const std::string& study_uid) = 0;

  // Workflow. An order is found by its filler order number, or by its placer order number when it
  // has no filler number.
  virtual Result<std::optional<OrderRecord>> find_order(const std::string& placer_order,
                                                        const std::string& filler_order) = 0;
  // Applies a message's order changes and records the message, in one transaction. Duplicate
  // when the sender's control ID is recorded already (nothing applied); NotFound when a Cancel or
  // SetStatus names no known order (nothing applied or recorded).
  virtual Result<void> apply_orders(std::span<const OrderChange> changes,
                                    const MessageRecord& message) = 0;
  // Applies a message's patient change (ADT) and records the message, in one transaction;
  // Duplicate as above; NotFound when a merge's prior patient is known nowhere (nothing applied).
  virtual Result<void> apply_patient_change(const PatientChange& change,
                                            const MessageRecord& message) = 0;
  // The merge journal (sql_patients.h). An operator's merge of change.prior_* into the patient
  // change names, journaled with the actor; with apply false, a preview: the same merge, rolled
  // back, returning what it would move. Refusals as sql_patients::merge.
  virtual Result<MergeRecord> merge_patients(const PatientChange& change, const std::string& actor,
                                             bool apply) = 0;
  // Undoes a merge (errors as sql_patients::unmerge).
  virtual Result<MergeRecord> unmerge_patients(std::int64_t merge_id, const std::string& actor) = 0;
  // The journal, newest first.
  virtual Result<std::vector<MergeRecord>> patient_merges(std::size_t limit) = 0;
  // Timelines (sql_timeline.h): a modality's first query that was answered these worklist items
  // (at answered_ms),
  // and the timeline of the newest order with an accession number (nullopt: no such order).
  virtual Result<void> record_worklist_query(const std::vector<std::string>& accession_numbers,
                                             const std::string& calling_ae,
                                             std::int64_t answered_ms) = 0;
  virtual Result<std::optional<Timeline>> timeline(const std::string& accession_number) = 0;
  // Studies and their link to an order: "linked" or "unreconciled" (state "" for all), newest
  // first, up to limit.
  virtual Result<std::vector<StudyLink>> study_links(const std::string& state,
                                                     std::size_t limit) = 0;
  // An operator links a stored study to an order (found as find_order does); recorded with the
  // actor. NotFound when the study or the order is not known.
  virtual Result<void> link_study(const std::string& study_uid, const std::string& placer_order,
                                  const std::string& filler_order, const std::string& actor) = 0;
  // An operator links a stored study that has no order to its patient (Patient ID, and the
  // issuer where the ID alone names patients of more than one authority): the study becomes that
  // patient's, as the index or an order knows the patient, and leaves the unreconciled list; an
  // order that comes later still links it. NotFound when the study or the patient is not known;
  // InvalidArgument when the Patient ID is empty or ambiguous.
  virtual Result<void> link_study_to_patient(const std::string& study_uid,
                                             const std::string& patient_id,
                                             const std::string& issuer_of_patient_id,
                                             const std::string& actor) = 0;
  // The reconciliation work queue's facts (sql_reconciliation::facts), and its own actions:
  // closing an identity conflict, and splitting a study off to another patient (see
  // sql_reconciliation.h for the errors).
  virtual Result<ReconciliationFacts> reconciliation_facts(std::size_t limit) = 0;
  virtual Result<void> resolve_identity_conflict(std::int64_t id, const std::string& actor,
                                                 const std::string& note) = 0;
  virtual Result<void> split_study(const std::string& study_uid, const PatientFacts& to,
                                   const std::string& actor) = 0;
  // MPPS: a new performed step (Duplicate when its SOP Instance UID is known), a step found by its
  // UID, and an update of one (NotFound when unknown). The worklist item and the order it
  // performs (by Study Instance UID, else Accession Number; the Scheduled Procedure Step ID picks
  // the item) follow its status in the same transaction.
  // `notify`: the destinations told of the status (a procedure-status outbox item each), in the
  // same transaction; a COMPLETED step also completes its stored study (see below).
  virtual Result<void> create_mpps(const MppsRecord& mpps,
                                   const std::vector<std::string>& notify) = 0;
  virtual Result<std::optional<MppsRecord>> find_mpps(const std::string& sop_instance_uid) = 0;
  virtual Result<void> update_mpps(const MppsRecord& mpps,
                                   const std::vector<std::string>& notify) = 0;

  // Outbound HL7. Studies whose last instance came before quiet_before_ms and that are not yet
  // complete become complete, with a study-complete outbox item for each destination; a new
  // instance makes a study incomplete again. Returns how many studies completed.
  virtual Result<std::size_t> complete_quiet_studies(std::int64_t quiet_before_ms,
                                                     const std::vector<std::string>& notify,
                                                     std::size_t limit) = 0;
  // Claims due outbox items as claim_queue_items does; update_outbox ends the claim.
  virtual Result<std::vector<OutboxItem>> claim_outbox(std::int64_t now_ms, std::size_t limit,
                                                       const ClaimPolicy& claim) = 0;
  virtual Result<std::vector<OutboxItem>> outbox_items(const std::string& state,
                                                       std::size_t limit) = 0;
  // One outbox item by its id; nullopt when there is none.
  virtual Result<std::optional<OutboxItem>> outbox_item(std::int64_t id) = 0;
  virtual Result<std::map<std::string, std::int64_t>> outbox_counts() = 0;
  // When the oldest pending item of each queue was made (ms since the epoch), by queue:
  // "forwarding" (outbound_queue) and "hl7" (the HL7 outbox); a queue with none pending is absent.
  virtual Result<std::map<std::string, std::int64_t>> oldest_pending_ms() = 0;
  virtual Result<void> update_outbox(std::int64_t id, const std::string& state,
                                     std::int64_t next_attempt_ms, const std::string& error) = 0;
  // An operator's edit of an unsent item's message (sent instead of the node's own from then on),
  // recorded in the workflow audit with the actor. NotFound for no such item; Duplicate when it
  // was sent already.
  virtual Result<void> edit_outbox_message(std::int64_t id, const std::string& message,
                                           const std::string& actor) = 0;
  // What the index knows of a study (stored, or only ordered), for outbound messages.
  virtual Result<std::optional<StudyFacts>> study_facts(const std::string& study_uid) = 0;
  // Reports: the current one of a study, and saving one with the message that carried it (one
  // transaction; Duplicate as above). Saving replaces the study's earlier report; the replaced
  // one's SR instance UID is returned ("" when there was none) for its removal.
  virtual Result<std::optional<ReportRecord>> find_report(const std::string& study_uid) = 0;
  virtual Result<std::string> save_report(const ReportRecord& report,
                                          const MessageRecord& message) = 0;
  // Records a message that changed nothing (refused, or an error); Duplicate as above.
  virtual Result<void> record_message(const MessageRecord& message) = 0;
  // The acknowledgement recorded for a message from this sender with this control ID, if any.
  virtual Result<std::optional<std::string>> recorded_ack(const std::string& sender,
                                                          const std::string& control_id) = 0;
  // The message log, newest first: every processed message, or those with this control ID,
  // and/or in this state ("dead": the dead letters).
  virtual Result<std::vector<LoggedMessage>> logged_messages(const std::string& control_id,
                                                             const std::string& state,
                                                             std::size_t limit) = 0;
  // One logged message with its text (message.message; "" unless it is a dead letter).
  virtual Result<std::optional<LoggedMessage>> logged_message(std::int64_t id) = 0;
  // An operator's edit of a dead letter's text before a replay, recorded in the workflow audit
  // with the actor. NotFound when the id is no dead letter.
  virtual Result<void> edit_logged_message(std::int64_t id, const std::string& message,
                                           const std::string& actor) = 0;
  // Counts a failure that may pass (AE 207, not recorded) of a sender's message; returns how many
  // there have been. The count goes when the message is recorded.
  virtual Result<std::int64_t> note_inbound_failure(const std::string& sender,
                                                    const std::string& control_id,
                                                    const std::string& error) = 0;
  virtual int schema_version() = 0;
  // How many write transactions are worth running at once: SQLite has one writer at a time,
  // PostgreSQL lets writers of different patients proceed side by side.
  virtual unsigned parallel_writers() const = 0;

  // For logs: the backend and where it is, without credentials.
  virtual std::string describe() const = 0;
};

}  // namespace pacs
