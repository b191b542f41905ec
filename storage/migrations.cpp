#include "storage/migrations.h"

#include <string>
#include <vector>

namespace pacs {
namespace {

// Placeholders filled per dialect: {pk} an auto-increment key, {blob} binary, {int} 64-bit integer.
const std::vector<std::string_view> kMigrations = {
    // 1: the four-level model with the keys C-FIND and QIDO-RS match on and the per-level counts.
    R"sql(
CREATE TABLE patients (
  pk {pk},
  patient_id TEXT NOT NULL,
  issuer TEXT NOT NULL DEFAULT '',
  name TEXT NOT NULL DEFAULT '',
  birth_date TEXT NOT NULL DEFAULT '',
  sex TEXT NOT NULL DEFAULT '',
  num_studies {int} NOT NULL DEFAULT 0,
  num_series {int} NOT NULL DEFAULT 0,
  num_instances {int} NOT NULL DEFAULT 0,
  attributes {blob},
  UNIQUE (patient_id, issuer));
CREATE TABLE studies (
  pk {pk},
  patient_pk {int} NOT NULL REFERENCES patients(pk),
  study_uid TEXT NOT NULL UNIQUE,
  study_date TEXT NOT NULL DEFAULT '',
  study_time TEXT NOT NULL DEFAULT '',
  accession_number TEXT NOT NULL DEFAULT '',
  study_id TEXT NOT NULL DEFAULT '',
  referring_physician TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  modalities TEXT NOT NULL DEFAULT '',
  sop_classes TEXT NOT NULL DEFAULT '',
  num_series {int} NOT NULL DEFAULT 0,
  num_instances {int} NOT NULL DEFAULT 0,
  attributes {blob});
CREATE INDEX studies_patient ON studies(patient_pk);
CREATE INDEX studies_date ON studies(study_date);
CREATE INDEX studies_accession ON studies(accession_number);
CREATE TABLE series (
  pk {pk},
  study_pk {int} NOT NULL REFERENCES studies(pk),
  series_uid TEXT NOT NULL UNIQUE,
  modality TEXT NOT NULL DEFAULT '',
  series_number TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  num_instances {int} NOT NULL DEFAULT 0,
  attributes {blob});
CREATE INDEX series_study ON series(study_pk);
CREATE INDEX series_modality ON series(modality);
CREATE TABLE instances (
  pk {pk},
  series_pk {int} NOT NULL REFERENCES series(pk),
  sop_uid TEXT NOT NULL UNIQUE,
  sop_class TEXT NOT NULL,
  instance_number TEXT NOT NULL DEFAULT '',
  transfer_syntax TEXT NOT NULL,
  path TEXT NOT NULL,
  size_bytes {int} NOT NULL,
  attributes {blob});
CREATE INDEX instances_series ON instances(series_pk);
)sql",
    // 2: the outbound queue of store-and-forward routing. A row per (instance, destination); the
    // file to send is found through the instance row, so an overwrite sends the current object.
    R"sql(
CREATE TABLE outbound_queue (
  pk {pk},
  destination TEXT NOT NULL,
  sop_uid TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts {int} NOT NULL DEFAULT 0,
  next_attempt_ms {int} NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_ms {int} NOT NULL,
  updated_ms {int} NOT NULL);
CREATE INDEX outbound_queue_due ON outbound_queue(state, next_attempt_ms);
)sql",
    // 3: person names matched through an indexed key: the first (alphabetic) component group in
    // upper case, so "DOE*" and "Doe^Jane" are index range scans, not table scans.
    R"sql(
ALTER TABLE patients ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE studies ADD COLUMN referring_key TEXT NOT NULL DEFAULT '';
UPDATE patients SET name_key = UPPER(name);
UPDATE studies SET referring_key = UPPER(referring_physician);
CREATE INDEX patients_name_key ON patients(name_key{pattern_ops});
CREATE INDEX studies_referring_key ON studies(referring_key{pattern_ops});
)sql",
    // 4: the imaging workflow: orders, the worklist items they schedule (the keys Modality
    // Worklist matches on, copied from the order so a query reads one table; a modality asks
    // for its station or modality on a day, hence the two-column indexes), and the HL7 messages
    // processed, unique per sender and control ID so none is applied twice.
    R"sql(
CREATE TABLE orders (
  pk {pk},
  placer_order TEXT NOT NULL DEFAULT '',
  filler_order TEXT NOT NULL DEFAULT '',
  accession_number TEXT NOT NULL DEFAULT '',
  requested_procedure_id TEXT NOT NULL DEFAULT '',
  study_uid TEXT NOT NULL DEFAULT '',
  patient_id TEXT NOT NULL DEFAULT '',
  issuer TEXT NOT NULL DEFAULT '',
  patient_name TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'SCHEDULED',
  updated_ms {int} NOT NULL,
  UNIQUE (placer_order, filler_order));
CREATE INDEX orders_filler ON orders(filler_order);
CREATE INDEX orders_accession ON orders(accession_number);
CREATE INDEX orders_study ON orders(study_uid);
CREATE TABLE worklist (
  pk {pk},
  order_pk {int} NOT NULL REFERENCES orders(pk),
  sps_id TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'SCHEDULED',
  station_aet TEXT NOT NULL DEFAULT '',
  modality TEXT NOT NULL DEFAULT '',
  start_date TEXT NOT NULL DEFAULT '',
  start_time TEXT NOT NULL DEFAULT '',
  patient_id TEXT NOT NULL DEFAULT '',
  issuer TEXT NOT NULL DEFAULT '',
  patient_name TEXT NOT NULL DEFAULT '',
  name_key TEXT NOT NULL DEFAULT '',
  accession_number TEXT NOT NULL DEFAULT '',
  requested_procedure_id TEXT NOT NULL DEFAULT '',
  study_uid TEXT NOT NULL DEFAULT '',
  attributes {blob});
CREATE INDEX worklist_order ON worklist(order_pk);
CREATE INDEX worklist_start ON worklist(start_date);
CREATE INDEX worklist_station_start ON worklist(station_aet, start_date);
CREATE INDEX worklist_modality_start ON worklist(modality, start_date);
CREATE INDEX worklist_patient ON worklist(patient_id);
CREATE INDEX worklist_accession ON worklist(accession_number);
CREATE INDEX worklist_name_key ON worklist(name_key{pattern_ops});
CREATE TABLE hl7_messages (
  pk {pk},
  sender TEXT NOT NULL,
  control_id TEXT NOT NULL,
  message_type TEXT NOT NULL,
  ack_code TEXT NOT NULL,
  ack TEXT NOT NULL,
  received_ms {int} NOT NULL,
  UNIQUE (sender, control_id));
)sql",
    // 5: the journal of patient merges (ADT A40): who was merged into whom, and when.
    R"sql(
CREATE TABLE patient_merges (
  pk {pk},
  prior_id TEXT NOT NULL,
  prior_issuer TEXT NOT NULL DEFAULT '',
  surviving_id TEXT NOT NULL,
  surviving_issuer TEXT NOT NULL DEFAULT '',
  merged_ms {int} NOT NULL);
CREATE INDEX patient_merges_prior ON patient_merges(prior_id);
)sql",
    // 6: reconciliation: each stored study's link to its order (or why it has none), and the
    // record of every link and change (who, what, when).
    R"sql(
CREATE TABLE study_links (
  pk {pk},
  study_uid TEXT NOT NULL UNIQUE,
  order_pk {int} REFERENCES orders(pk),
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  updated_ms {int} NOT NULL);
CREATE INDEX study_links_state ON study_links(state, updated_ms);
CREATE INDEX study_links_order ON study_links(order_pk);
CREATE TABLE workflow_audit (
  pk {pk},
  at_ms {int} NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '');
CREATE INDEX workflow_audit_subject ON workflow_audit(subject);
)sql",
    // 7: Modality Performed Procedure Steps, with the keys of the step they perform.
    R"sql(
CREATE TABLE mpps (
  pk {pk},
  sop_uid TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  study_uid TEXT NOT NULL DEFAULT '',
  accession_number TEXT NOT NULL DEFAULT '',
  sps_id TEXT NOT NULL DEFAULT '',
  attributes {blob},
  updated_ms {int} NOT NULL);
)sql",
    // 8: outbound HL7: when each study last got an instance and whether it was announced complete,
    // and the outbox of events to tell the configured destinations, retried until an AA.
    R"sql(
ALTER TABLE study_links ADD COLUMN last_instance_ms {int} NOT NULL DEFAULT 0;
ALTER TABLE study_links ADD COLUMN complete INTEGER NOT NULL DEFAULT 0;
CREATE INDEX study_links_quiet ON study_links(complete, last_instance_ms);
CREATE TABLE hl7_outbox (
  pk {pk},
  destination TEXT NOT NULL,
  event TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'pending',
  attempts {int} NOT NULL DEFAULT 0,
  next_attempt_ms {int} NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_ms {int} NOT NULL,
  updated_ms {int} NOT NULL);
CREATE INDEX hl7_outbox_due ON hl7_outbox(state, next_attempt_ms);
)sql",
    // 9: reports from the RIS (ORU^R01): the current version per study, with the SR that carries
    // it in the study.
    R"sql(
CREATE TABLE reports (
  pk {pk},
  study_uid TEXT NOT NULL UNIQUE,
  order_pk {int} REFERENCES orders(pk),
  accession_number TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  text TEXT NOT NULL,
  observer TEXT NOT NULL DEFAULT '',
  observed TEXT NOT NULL DEFAULT '',
  sr_sop_uid TEXT NOT NULL DEFAULT '',
  updated_ms {int} NOT NULL);
)sql",
    // 10: whether an ADT update or merge changed a patient's values, so that a retrieve compares
    // an object's patient attributes with the index's only for such patients.
    R"sql(
ALTER TABLE patients ADD COLUMN demographics_changed INTEGER NOT NULL DEFAULT 0;
)sql",
    // 11: the order's patient birth date and sex, which a study linked to it takes.
    R"sql(
ALTER TABLE orders ADD COLUMN patient_birth_date TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN patient_sex TEXT NOT NULL DEFAULT '';
)sql",
    // 12: each instance file's checksum, recorded at ingest, which `pacsnode fsck` verifies. Rows
    // from before have none until fsck --repair records one.
    R"sql(
ALTER TABLE instances ADD COLUMN checksum TEXT NOT NULL DEFAULT '';
)sql",
    // 13: files whose index rows went (deleted, rejected, past retention), removed once their
    // grace period ends. Listed in the transaction that removes the rows, so no crash loses one.
    // Removal and retention find an instance's forwarding by its SOP Instance UID.
    R"sql(
CREATE TABLE purge_queue (
  pk {pk},
  path TEXT NOT NULL,
  sop_uid TEXT NOT NULL,
  reason TEXT NOT NULL,
  purge_after_ms {int} NOT NULL,
  created_ms {int} NOT NULL);
CREATE INDEX purge_queue_due ON purge_queue(purge_after_ms);
CREATE INDEX outbound_queue_sop ON outbound_queue(sop_uid);
)sql",
    // 14: the merge journal keeps who merged and what each merge changed, as it was: both
    // patients' index rows (kept: the row outlived the merge), the prior patient's studies and
    // the row each belonged to, and both patients' orders and worklist items. An undo restores
    // them; a merge back is told apart from a cycle by the journal's state.
    R"sql(
ALTER TABLE patient_merges ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE patient_merges ADD COLUMN state TEXT NOT NULL DEFAULT 'applied';
ALTER TABLE patient_merges ADD COLUMN undone_ms {int} NOT NULL DEFAULT 0;
CREATE INDEX patient_merges_surviving ON patient_merges(surviving_id);
CREATE TABLE merge_patients (
  merge_pk {int} NOT NULL REFERENCES patient_merges(pk),
  patient_pk {int} NOT NULL,
  patient_id TEXT NOT NULL,
  issuer TEXT NOT NULL,
  name TEXT NOT NULL,
  name_key TEXT NOT NULL,
  birth_date TEXT NOT NULL,
  sex TEXT NOT NULL,
  attributes {blob},
  demographics_changed {int} NOT NULL,
  kept {int} NOT NULL);
CREATE INDEX merge_patients_merge ON merge_patients(merge_pk);
CREATE TABLE merge_studies (
  merge_pk {int} NOT NULL REFERENCES patient_merges(pk),
  study_pk {int} NOT NULL,
  patient_pk {int} NOT NULL);
CREATE INDEX merge_studies_merge ON merge_studies(merge_pk);
CREATE TABLE merge_orders (
  merge_pk {int} NOT NULL REFERENCES patient_merges(pk),
  order_pk {int} NOT NULL,
  patient_id TEXT NOT NULL,
  issuer TEXT NOT NULL,
  patient_name TEXT NOT NULL,
  patient_birth_date TEXT NOT NULL,
  patient_sex TEXT NOT NULL);
CREATE INDEX merge_orders_merge ON merge_orders(merge_pk);
CREATE TABLE merge_worklist (
  merge_pk {int} NOT NULL REFERENCES patient_merges(pk),
  worklist_pk {int} NOT NULL,
  patient_id TEXT NOT NULL,
  issuer TEXT NOT NULL,
  patient_name TEXT NOT NULL,
  name_key TEXT NOT NULL,
  attributes {blob});
CREATE INDEX merge_worklist_merge ON merge_worklist(merge_pk);
)sql",
    // 15: an outbox item's message as an operator edited it (sent instead of the one the node
    // would write; empty for none).
    R"sql(
ALTER TABLE hl7_outbox ADD COLUMN message TEXT NOT NULL DEFAULT '';
)sql",
    // 16: each order's workflow steps as they happen (sql_timeline.h), with the order and/or
    // the study they belong to.
    R"sql(
CREATE TABLE order_events (
  pk {pk},
  order_pk {int},
  study_uid TEXT NOT NULL DEFAULT '',
  step TEXT NOT NULL,
  at_ms {int} NOT NULL,
  detail TEXT NOT NULL DEFAULT '');
CREATE INDEX order_events_order ON order_events(order_pk);
CREATE INDEX order_events_study ON order_events(study_uid);
)sql",
    // 17: orders by patient, for the questions ADT asks (which authorities use this ID, which
    // orders a merge moves) without a scan of every order.
    R"sql(
CREATE INDEX orders_patient ON orders(patient_id);
)sql",
    // 18: identity conflicts (sql_reconciliation.h): a study or an order that named a known
    // patient with demographics that disagree, open until an operator resolves it.
    R"sql(
CREATE TABLE identity_conflicts (
  pk {pk},
  patient_id TEXT NOT NULL,
  issuer TEXT NOT NULL DEFAULT '',
  arrived_name TEXT NOT NULL DEFAULT '',
  arrived_birth_date TEXT NOT NULL DEFAULT '',
  arrived_sex TEXT NOT NULL DEFAULT '',
  study_uid TEXT NOT NULL DEFAULT '',
  order_pk {int},
  detected_ms {int} NOT NULL,
  resolved_ms {int} NOT NULL DEFAULT 0,
  resolution TEXT NOT NULL DEFAULT '');
CREATE INDEX identity_conflicts_open ON identity_conflicts(resolved_ms, pk);
CREATE INDEX identity_conflicts_study ON identity_conflicts(study_uid);
)sql",
    // 19: inbound dead letters: a refused message keeps its text (state 'dead') for an operator to
    // edit and replay; failures that may pass are counted per message, so that one that keeps
    // failing is set aside instead of blocking its sender's queue.
    R"sql(
ALTER TABLE hl7_messages ADD COLUMN message TEXT NOT NULL DEFAULT '';
ALTER TABLE hl7_messages ADD COLUMN state TEXT NOT NULL DEFAULT '';
CREATE INDEX hl7_messages_state ON hl7_messages(state, pk);
CREATE TABLE hl7_failures (
  pk {pk},
  sender TEXT NOT NULL,
  control_id TEXT NOT NULL,
  attempts {int} NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  updated_ms {int} NOT NULL,
  UNIQUE (sender, control_id));
)sql",
    // 20: work claimed by one node of several sharing the index: a claimed item is its node's
    // until the node records the attempt or the lease runs out (the node died or stalled). The
    // few claimed rows are indexed apart, so renewing a node's leases reads only those.
    R"sql(
ALTER TABLE outbound_queue ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE outbound_queue ADD COLUMN lease_until_ms {int} NOT NULL DEFAULT 0;
ALTER TABLE hl7_outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE hl7_outbox ADD COLUMN lease_until_ms {int} NOT NULL DEFAULT 0;
CREATE INDEX outbound_queue_claimed ON outbound_queue(claimed_by) WHERE claimed_by <> '';
CREATE INDEX hl7_outbox_claimed ON hl7_outbox(claimed_by) WHERE claimed_by <> '';
)sql",
};

std::string for_dialect(std::string_view text, sql::Dialect dialect) {
  const bool pg = dialect == sql::Dialect::Postgresql;
  std::string out(text);
  auto replace_all = [&out](std::string_view from, std::string_view to) {
    for (std::size_t at = out.find(from); at != std::string::npos;
         at = out.find(from, at + to.size()))
      out.replace(at, from.size(), to);
  };
  replace_all("{pk}", pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY");
  replace_all("{blob}", pg ? "BYTEA" : "BLOB");
  replace_all("{int}", pg ? "BIGINT" : "INTEGER");
  // PostgreSQL uses a btree for LIKE 'prefix%' only with pattern ops (or the C collation).
  replace_all("{pattern_ops}", pg ? " text_pattern_ops" : "");
  return out;
}

int current_version(sql::Connection& c) {
  auto rows = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  return rows.empty() ? 0 : static_cast<int>(rows[0].integer(0));
}

}  // namespace

int latest_schema_version() {
  return static_cast<int>(kMigrations.size());
}

int migrate(sql::Connection& c) {
  const bool pg = c.dialect() == sql::Dialect::Postgresql;
  // An arbitrary constant names pacsnode's advisory lock.
  if (pg) c.query("SELECT pg_advisory_lock(7316021)");
  try {
    c.execute_script(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "applied_at TEXT NOT NULL)");
    int version = current_version(c);
    for (int next = version + 1; next <= latest_schema_version(); ++next) {
      sql::Transaction tx(c);
      if (current_version(c) >= next) continue;  // another SQLite process got there first
      c.execute_script(for_dialect(kMigrations[static_cast<std::size_t>(next - 1)], c.dialect()));
      const sql::Value params[] = {std::int64_t{next}};
      c.query(pg ? "INSERT INTO schema_migrations VALUES (?, now()::text)"
                 : "INSERT INTO schema_migrations VALUES (?, datetime('now'))",
              params);
      tx.commit();
      version = next;
    }
    if (pg) c.query("SELECT pg_advisory_unlock(7316021)");
    return current_version(c);
  } catch (...) {
    if (pg) {
      try {
        c.query("SELECT pg_advisory_unlock(7316021)");
      } catch (...) {
      }
    }
    throw;
  }
}

}  // namespace pacs
