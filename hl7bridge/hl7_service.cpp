#include "hl7bridge/hl7_service.h"

#include <chrono>
#include <set>

#include "hl7bridge/charset.h"
#include "hl7bridge/patients.h"
#include "hl7bridge/reports.h"
#include "security/audit_trail.h"
#include "storage/model/log.h"
#include "storage/model/metrics.h"

namespace pacs::hl7 {
namespace {

// Versions whose message structures the bridge reads (HL7 v2.3 to v2.5.1).
bool supported_version(const std::string& v) {
  return v == "2.3" || v == "2.3.1" || v == "2.4" || v == "2.5" || v == "2.5.1";
}

}  // namespace

Hl7Service::Hl7Service(Index& index, Hl7Options options, ReportService* reports)
    : index_(index), options_(std::move(options)), reports_(reports) {}

std::string Hl7Service::next_control_id() {
  // Unique across restarts: the start time and a counter.
  static const std::string start =
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
  return "PN" + start + "-" + std::to_string(++counter_);
}

namespace {

// The ACK code (MSA-1) of an acknowledgement we wrote; "none" without one.
std::string ack_code_of(const std::optional<std::string>& ack) {
  if (!ack) return "none";
  const auto msa = ack->find("\rMSA");
  if (msa == std::string::npos || msa + 5 >= ack->size()) return "none";
  const char separator = (*ack)[msa + 4];
  const auto end = ack->find(separator, msa + 5);
  return ack->substr(msa + 5, end == std::string::npos ? std::string::npos : end - msa - 5);
}

// A message type as a metric label: the types the node handles by name, the rest together (the
// label set must not grow with whatever senders write into MSH-9).
std::string type_label(const std::string& type) {
  static const std::set<std::string> known = {"ORM^O01", "OMI^O23", "ADT^A01", "ADT^A04",
                                              "ADT^A08", "ADT^A40", "ORU^R01"};
  return type.empty() ? "unparseable" : known.count(type) ? type : "other";
}

// The order and patient record events of the audit trail (PS3.15 A.5.3.8, A.5.3.9) for a
// message that was applied (AA) or understood and refused (AE).
void audit_record_event(const MessageFacts& facts, const std::string& ack,
                        const std::string& node_aet) {
  const bool order = facts.type == "ORM^O01" || facts.type == "OMI^O23";
  const bool patient = facts.type.starts_with("ADT^");
  if ((!order && !patient) || (ack != "AA" && ack != "AE")) return;
  char action = 'U';
  if (order) {
    const std::string& control = facts.order_control;
    action = control == "NW"                                         ? 'C'
             : control == "CA" || control == "DC" || control == "OC" ? 'D'
                                                                     : 'U';
  } else if (facts.type == "ADT^A01" || facts.type == "ADT^A04") {
    action = 'C';
  }
  const int outcome = ack == "AA" ? 0 : 4;
  const auto sender = audit::remote(facts.sending_application, "", true);
  const auto node = audit::node_participant(node_aet, false);
  audit::record(order ? audit::order_record(action, outcome, sender, node, facts.patient_id)
                      : audit::patient_record(action, outcome, sender, node, facts.patient_id));
}

}  // namespace

std::optional<std::string> Hl7Service::handle(std::string_view bytes) {
  MessageFacts facts;
  auto ack = respond(bytes, facts);
  const std::string code = ack_code_of(ack);
  metrics::registry()
      .counter("pacsnode_hl7_messages_total", "HL7 messages received, by type and ACK code",
               {{"type", type_label(facts.type)}, {"ack", code}})
      .add();
  audit_record_event(facts, code, options_.application);
  return ack;
}

Result<std::string> Hl7Service::replay(std::int64_t dead_letter_id) {
  auto logged = index_.logged_message(dead_letter_id);
  if (!logged) return tl::unexpected(logged.error());
  if (!*logged || (*logged)->state != "dead")
    return fail(ErrorCode::NotFound, "no dead letter " + std::to_string(dead_letter_id));
  MessageFacts facts;
  auto ack = respond((*logged)->message.message, facts, dead_letter_id);
  audit_record_event(facts, ack_code_of(ack), options_.application);
  if (!ack) return fail(ErrorCode::IndexUnavailable, "the message could not be processed now");
  return *ack;
}

std::optional<std::string> Hl7Service::respond(std::string_view bytes, MessageFacts& facts,
                                               std::int64_t replaces) {
  const std::string now = hl7_timestamp_now();
  auto parsed = Message::parse(bytes);
  if (!parsed) {
    PACS_LOG(Warn) << "HL7: unparseable message refused: " << parsed.error().message;
    return make_reject_for_unparseable(bytes, parsed.error().message, next_control_id(), now,
                                       options_.application, options_.facility);
  }
  // The delimiters are ASCII in every character set we take: parse, read MSH-18, then decode (a
  // dead letter was kept decoded).
  auto text =
      replaces > 0 ? Result<std::string>(std::string(bytes)) : to_utf8(bytes, parsed->charset());
  if (!text) {
    PACS_LOG(Warn) << "HL7 message " << parsed->control_id()
                   << " refused: " << text.error().message;
    return make_ack(*parsed, AckCode::AR, AckError{102, text.error().message, "MSH", 1, 18},
                    next_control_id(), now, options_.application, options_.facility);
  }
  if (*text != bytes) parsed = Message::parse(*text);
  if (!parsed)
    return make_reject_for_unparseable(bytes, parsed.error().message, next_control_id(), now,
                                       options_.application, options_.facility);
  const Message& message = *parsed;
  const std::string type = message.message_type() + "^" + message.trigger_event();
  facts.type = type;
  facts.sending_application = message.sending_application();
  if (const Segment* pid = message.find("PID")) facts.patient_id = pid->value(3);
  if (const Segment* orc = message.find("ORC")) facts.order_control = orc->value(1);
  const std::string sender = message.sending_application() + "|" + message.sending_facility();
  const std::string control_id = message.control_id();

  auto answer = [&](AckCode code, std::optional<AckError> error) {
    return make_ack(message, code, error, next_control_id(), now, options_.application,
                    options_.facility);
  };
  // Refusals of the header itself: nothing to record, the sender must fix the message.
  auto reject = [&](int code, std::string why, std::size_t field) {
    PACS_LOG(Warn) << "HL7 " << type << " " << control_id << " from " << sender
                   << " refused: " << why;
    return answer(AckCode::AR, AckError{code, std::move(why), "MSH", 1, field});
  };
  if (control_id.empty()) return reject(101, "Message Control ID (MSH-10) missing", 10);
  if (!supported_version(message.version()))
    return reject(203, "version '" + message.version() + "' is not supported (2.3 to 2.5.1)", 12);
  const std::string processing = message.processing_id();
  if (processing != "P" && processing != "D" && processing != "T")
    return reject(202, "processing ID '" + processing + "' is not supported", 11);

  const bool order = type == "ORM^O01" || type == "OMI^O23";
  MessageRecord record{sender, control_id, type, "", "", *text, replaces};
  // A message seen before (its record is there when ours is not taken) is answered as it was
  // then, and not applied again. The check is the record's insert itself, in the transaction that
  // applies the message: no lookup before, and no race between two copies.
  auto recorded_answer = [&]() -> std::optional<std::string> {
    auto again = index_.recorded_ack(sender, control_id);
    if (!again || !*again) return std::nullopt;
    PACS_LOG(Info) << "HL7 " << type << " " << control_id << " from " << sender
                   << " seen before: its acknowledgement is sent again";
    return **again;
  };
  // Records a refusal or an error, so a resent copy gets the same answer.
  auto refuse = [&](AckCode code, const AckError& error) -> std::optional<std::string> {
    PACS_LOG(Warn) << "HL7 " << type << " " << control_id << " from " << sender << ": "
                   << to_string(code) << " " << error.code << " " << error.text;
    record.ack_code = std::string(to_string(code));
    record.ack = answer(code, error);
    auto stored = index_.record_message(record);
    if (!stored && stored.error().code == ErrorCode::Duplicate) return recorded_answer();
    if (!stored) return std::nullopt;
    return record.ack;
  };
  const bool patient =
      type == "ADT^A01" || type == "ADT^A04" || type == "ADT^A08" || type == "ADT^A40";
  const bool report = type == "ORU^R01" && reports_;
  if (!order && !patient && !report) {
    const std::string code = message.message_type();
    const bool known_type = code == "ORM" || code == "OMI" || code == "ADT" || code == "ORU";
    return refuse(AckCode::AR, AckError{known_type ? 201 : 200,
                                        "message type " + type + " is not supported", "MSH", 1, 9});
  }

  // A failure that may pass (a full disk, the database restarting): AE 207 with the reason, and
  // not recorded, so that the same message sent again later is applied.
  // One that keeps failing so is set aside after its attempts (a dead letter, AE recorded), so
  // the sender's queue moves on; with the index unreachable there is nowhere to set it aside.
  auto retry_later = [&](const Error& error) -> std::optional<std::string> {
    PACS_LOG(Error) << "HL7 " << type << " " << control_id << " from " << sender
                    << " not applied: " << error.message;
    if (options_.max_inbound_attempts > 0 && error.code != ErrorCode::IndexUnavailable &&
        replaces == 0) {
      // Set aside before: the same answer again.
      if (auto answered = recorded_answer()) return answered;
      const auto attempts = index_.note_inbound_failure(sender, control_id, error.message);
      if (attempts && *attempts >= static_cast<std::int64_t>(options_.max_inbound_attempts))
        return refuse(AckCode::AE, AckError{207,
                                            "set aside after " + std::to_string(*attempts) +
                                                " attempts: " + error.message,
                                            "MSH", 1, 0});
    }
    return answer(AckCode::AE,
                  AckError{207, "not applied, send again later: " + error.message, "MSH", 1, 0});
  };
  if (options_.room_for_writes)
    if (auto room = options_.room_for_writes(); !room) return retry_later(room.error());

  // Applies the message's effect together with its record (the AA we are about to send).
  record.ack_code = "AA";
  record.ack = answer(AckCode::AA, std::nullopt);
  auto outcome = [&](const Result<void>& applied, const std::string& what,
                     const AckError& not_found) -> std::optional<std::string> {
    if (applied) {
      PACS_LOG(Info) << "HL7 " << type << " " << control_id << " from " << sender << ": " << what;
      return record.ack;
    }
    switch (applied.error().code) {
      case ErrorCode::Duplicate:
        return recorded_answer();
      case ErrorCode::NotFound: {
        AckError error = not_found;
        error.text = applied.error().message;
        return refuse(AckCode::AE, error);
      }
      case ErrorCode::IndexUnavailable:
      case ErrorCode::Conflict:
      case ErrorCode::StorageFailure:
      case ErrorCode::StorageFull:
        return retry_later(applied.error());
      default:
        // Would fail again the same way: AE 207 (application internal error), recorded.
        return refuse(AckCode::AE, AckError{207, applied.error().message, "MSH", 1, 0});
    }
  };

  if (report) {
    auto parsed_report = report_of(message);
    if (!parsed_report) return refuse(parsed_report.error().code, parsed_report.error().error);
    auto stored = reports_->store(*parsed_report, record);
    if (stored)
      return outcome(Result<void>{}, "report " + stored->status + " for study " + stored->study_uid,
                     {});
    return outcome(tl::unexpected(stored.error()), "", AckError{204, "", "OBR", 1, 3});
  }
  if (patient) {
    auto change = patient_change(message, options_.orders.default_issuers);
    if (!change) return refuse(change.error().code, change.error().error);
    auto applied = index_.apply_patient_change(*change, record);
    // A merge the journal refuses (one that would close a cycle): AE, as for a self-merge; an ID
    // without its issuer that two authorities use: AE at the identifier.
    if (!applied && applied.error().code == ErrorCode::InvalidArgument)
      return refuse(AckCode::AE, change->merge
                                     ? AckError{205, applied.error().message, "MRG", 1, 1}
                                     : AckError{204, applied.error().message, "PID", 1, 3});
    return outcome(applied, change->merge ? "patients merged" : "patient updated",
                   AckError{204, "", "MRG", 1, 1});
  }
  auto changes = order_changes(message, options_.orders);
  if (!changes) return refuse(changes.error().code, changes.error().error);
  return outcome(index_.apply_orders(*changes, record),
                 std::to_string(changes->size()) + " order change(s) applied",
                 AckError{204, "", "ORC", 1, 2});
}

}  // namespace pacs::hl7
