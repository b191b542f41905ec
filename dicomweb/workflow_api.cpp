#include "dicomweb/workflow_api.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "dicomweb/api_requests.h"
#include "dicomweb/dicom_json.h"
#include "dicomweb/handlers.h"
#include "dicomweb/url.h"

namespace pacs::web {
namespace {

// The largest edited outbound message taken (a study-available message is a few hundred bytes).
constexpr std::size_t kMaxEditedMessage = 64 * 1024;

std::string link_json(const StudyLink& link) {
  return "{\"studyInstanceUID\":" + json_string(link.study_uid) +
         ",\"state\":" + json_string(link.state) + ",\"reason\":" + json_string(link.reason) +
         ",\"placerOrder\":" + json_string(link.placer_order) +
         ",\"fillerOrder\":" + json_string(link.filler_order) +
         ",\"accessionNumber\":" + json_string(link.accession_number) +
         ",\"patientID\":" + json_string(link.patient_id) +
         ",\"updatedMs\":" + std::to_string(link.updated_ms) + "}";
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The worklist's scheduled steps as Modality Worklist serves them (the same matching), with the
// attributes a worklist page shows.
Result<std::string> worklist_json(const QueryService& query, const Target& target,
                                  std::size_t limit) {
  DcmDataset keys;
  for (const DcmTagKey& tag :
       {DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex, DCM_AccessionNumber,
        DCM_StudyInstanceUID, DCM_RequestedProcedureID, DCM_RequestedProcedureDescription})
    keys.putAndInsertString(tag, "");
  DcmItem* step = nullptr;
  keys.findOrCreateSequenceItem(DCM_ScheduledProcedureStepSequence, step);
  if (step == nullptr) return fail(ErrorCode::InvalidArgument, "cannot make the query");
  const std::pair<const char*, DcmTagKey> filters[] = {
      {"modality", DCM_Modality},
      {"station", DCM_ScheduledStationAETitle},
      {"date", DCM_ScheduledProcedureStepStartDate}};
  for (const auto& [name, tag] : filters)
    step->putAndInsertString(tag, query_parameter(target, name).c_str());
  for (const DcmTagKey& tag :
       {DCM_ScheduledProcedureStepStartTime, DCM_ScheduledProcedureStepID,
        DCM_ScheduledProcedureStepDescription, DCM_ScheduledProcedureStepStatus})
    step->putAndInsertString(tag, "");
  auto parsed = query.parse(keys, QueryModel::Worklist);
  if (!parsed) return tl::unexpected(parsed.error());
  std::string body = "[";
  std::size_t answered = 0;
  auto found = query.find(*parsed, [&](DcmDataset& item) {
    if (answered++ > 0) body += ',';
    body += to_dicom_json(item);
    return answered < limit;
  });
  if (!found) return tl::unexpected(found.error());
  return body + "]\n";
}

std::string item_json(const OutboxItem& item) {
  return "{\"id\":" + std::to_string(item.id) +
         ",\"destination\":" + json_string(item.destination) +
         ",\"event\":" + json_string(item.event) +
         ",\"studyInstanceUID\":" + json_string(item.subject) +
         ",\"detail\":" + json_string(item.detail) + ",\"state\":" + json_string(item.state) +
         ",\"attempts\":" + std::to_string(item.attempts) +
         ",\"lastError\":" + json_string(item.last_error) + "}";
}

std::string item_json(const QueueItem& item) {
  return "{\"id\":" + std::to_string(item.id) +
         ",\"destination\":" + json_string(item.destination) +
         ",\"sopInstanceUID\":" + json_string(item.sop_instance_uid) +
         ",\"state\":" + json_string(item.state) +
         ",\"attempts\":" + std::to_string(item.attempts) +
         ",\"nextAttemptMs\":" + std::to_string(item.next_attempt_ms) +
         ",\"lastError\":" + json_string(item.last_error) + "}";
}

template <typename Items>
Result<std::string> items_json(const Items& items) {
  if (!items) return tl::unexpected(items.error());
  std::string body = "[";
  for (const auto& item : *items) body += (body.size() > 1 ? "," : "") + item_json(item);
  return body + "]\n";
}

// A queue's items in a state ("" for all) as JSON: the HL7 outbox ("outbox") or forwarding.
Result<std::string> queue_json(Index& index, const std::string& queue, const std::string& state) {
  if (queue == "outbox") return items_json(index.outbox_items(state, 1000));
  return items_json(index.queue_items(state, 1000));
}

// Makes an unsent queue item due now; false when there is no such item.
template <typename Item, typename Update>
Result<bool> retry_unsent(const Result<std::optional<Item>>& item, const Update& update) {
  if (!item) return tl::unexpected(item.error());
  if (!*item) return false;
  if ((*item)->state == "sent") return fail(ErrorCode::Duplicate, "already sent");
  if (auto updated = update(**item); !updated) return tl::unexpected(updated.error());
  return true;
}

// An operator's retry on the HL7 outbox ("outbox") or the store-and-forward queue.
Result<bool> retry_now(Index& index, const std::string& queue, std::int64_t id) {
  const std::int64_t now = now_ms();
  if (queue == "outbox")
    return retry_unsent(index.outbox_item(id), [&](const OutboxItem& item) {
      return index.update_outbox(id, "pending", now, item.last_error);
    });
  return retry_unsent(index.queue_item(id), [&](const QueueItem& item) {
    return index.update_queue_item(id, "pending", now, item.last_error, now);
  });
}

// The steps in time order, each with its latency since the order came and since the step before.
std::string timeline_json(const Timeline& t) {
  std::int64_t ordered = -1, previous = -1;
  for (const TimelineEvent& e : t.events)
    if (e.step == step::kOrderReceived) {
      ordered = e.at_ms;
      break;
    }
  std::string events = "[";
  for (const TimelineEvent& e : t.events) {
    events +=
        std::string(events.size() > 1 ? "," : "") + "{\"step\":" + json_string(e.step) +
        ",\"atMs\":" + std::to_string(e.at_ms) + ",\"detail\":" + json_string(e.detail) +
        ",\"sinceOrderMs\":" + (ordered < 0 ? "null" : std::to_string(e.at_ms - ordered)) +
        ",\"sincePreviousMs\":" + (previous < 0 ? "null" : std::to_string(e.at_ms - previous)) +
        "}";
    previous = e.at_ms;
  }
  return "{\"accessionNumber\":" + json_string(t.accession_number) +
         ",\"placerOrder\":" + json_string(t.placer_order) +
         ",\"fillerOrder\":" + json_string(t.filler_order) +
         ",\"studyInstanceUID\":" + json_string(t.study_uid) + ",\"events\":" + events + "]}\n";
}

}  // namespace

net::awaitable<void> WorkflowApi::handle(Exchange& exchange) {
  const auto target = parse_target(exchange.target());
  if (!target) {
    reply_error(exchange, http::status::bad_request, "broken percent-encoding in the URL");
    co_return;
  }
  const auto& s = target->segments;
  // GET /api/reconciliation[?state=unreconciled|linked][&limit=N]
  if (s.size() == 2 && s[0] == "api" && s[1] == "reconciliation") {
    if (!allowed(exchange, Use::Get)) co_return;
    const std::string state = query_parameter(*target, "state");
    if (!state.empty() && state != "unreconciled" && state != "linked") {
      reply_error(exchange, http::status::bad_request, "state is unreconciled or linked");
      co_return;
    }
    const auto limit = limit_or_refused(exchange, *target);
    if (!limit) co_return;
    const auto links =
        co_await exchange.blocking([&] { return index_.study_links(state, *limit); });
    if (!links) {
      reply_error(exchange, http::status::service_unavailable, links.error().message);
      co_return;
    }
    std::string body = "[";
    for (const StudyLink& link : *links) body += (body.size() > 1 ? "," : "") + link_json(link);
    exchange.respond(http::status::ok, "application/json", body + "]\n");
    co_return;
  }
  // POST /api/reconciliation/{study}/link?placerOrder=..&fillerOrder=..   (to an order), or
  //      /api/reconciliation/{study}/link?patientID=..[&issuerOfPatientID=..] (to a patient)
  if (s.size() == 4 && s[0] == "api" && s[1] == "reconciliation" && s[3] == "link") {
    if (!allowed(exchange, Use::Post)) co_return;
    const std::string placer = query_parameter(*target, "placerOrder");
    const std::string filler = query_parameter(*target, "fillerOrder");
    const std::string patient = query_parameter(*target, "patientID");
    const std::string issuer = query_parameter(*target, "issuerOfPatientID");
    const bool to_order = !placer.empty() || !filler.empty();
    if (to_order == !patient.empty()) {
      reply_error(exchange, http::status::bad_request,
                  "name the order (placerOrder and/or fillerOrder) or the patient (patientID, "
                  "issuerOfPatientID), not both");
      co_return;
    }
    const std::string& study = s[2];
    const std::string actor = "operator (HTTP API)";
    const auto linked = co_await exchange.blocking([&] {
      return to_order ? index_.link_study(study, placer, filler, actor)
                      : index_.link_study_to_patient(study, patient, issuer, actor);
    });
    if (!linked) {
      const ErrorCode code = linked.error().code;
      reply_error(exchange,
                  code == ErrorCode::NotFound          ? http::status::not_found
                  : code == ErrorCode::InvalidArgument ? http::status::bad_request
                                                       : http::status::service_unavailable,
                  linked.error().message);
      co_return;
    }
    exchange.respond(http::status::ok, "application/json",
                     "{\"studyInstanceUID\":" + json_string(study) + ",\"state\":\"linked\"}\n");
    co_return;
  }
  // GET /api/reports/{study}: the study's current report.
  if (s.size() == 3 && s[0] == "api" && s[1] == "reports") {
    if (!allowed(exchange, Use::Get)) co_return;
    const std::string& study = s[2];
    const auto report = co_await exchange.blocking([&] { return index_.find_report(study); });
    if (!report) {
      reply_error(exchange, http::status::service_unavailable, report.error().message);
      co_return;
    }
    if (!*report) {
      reply_error(exchange, http::status::not_found, "no report for this study");
      co_return;
    }
    const ReportRecord& r = **report;
    exchange.respond(
        http::status::ok, "application/json",
        "{\"studyInstanceUID\":" + json_string(r.study_uid) + ",\"accessionNumber\":" +
            json_string(r.accession_number) + ",\"placerOrder\":" + json_string(r.placer_order) +
            ",\"fillerOrder\":" + json_string(r.filler_order) +
            ",\"status\":" + json_string(r.status) + ",\"observer\":" + json_string(r.observer) +
            ",\"observed\":" + json_string(r.observed) + ",\"text\":" + json_string(r.text) +
            ",\"document\":" + json_string(r.text.empty() ? "Encapsulated PDF" : "Basic Text SR") +
            ",\"srInstanceUID\":" + json_string(r.sr_sop_uid) +
            ",\"updatedMs\":" + std::to_string(r.updated_ms) + "}\n");
    co_return;
  }
  // GET /api/outbox, /api/forwarding [?state=pending|sent|failed]: outbound HL7 and the
  // store-and-forward queue, newest first.
  if (s.size() == 2 && s[0] == "api" && (s[1] == "outbox" || s[1] == "forwarding")) {
    if (!allowed(exchange, Use::Get)) co_return;
    const std::string state = query_parameter(*target, "state");
    if (!state.empty() && state != "pending" && state != "sent" && state != "failed") {
      reply_error(exchange, http::status::bad_request, "state is pending, sent or failed");
      co_return;
    }
    const std::string& queue = s[1];
    const auto body = co_await exchange.blocking([&] { return queue_json(index_, queue, state); });
    if (!body) {
      reply_error(exchange, http::status::service_unavailable, body.error().message);
      co_return;
    }
    exchange.respond(http::status::ok, "application/json", *body);
    co_return;
  }
  // GET /api/worklist[?modality=..][&station=..][&date=YYYYMMDD or a range][&limit=N]
  if (s.size() == 2 && s[0] == "api" && s[1] == "worklist") {
    if (!allowed(exchange, Use::Get)) co_return;
    const auto limit = limit_or_refused(exchange, *target);
    if (!limit) co_return;
    const auto body =
        co_await exchange.blocking([&] { return worklist_json(query_, *target, *limit); });
    if (!body) {
      const bool bad = body.error().code == ErrorCode::InvalidObject ||
                       body.error().code == ErrorCode::InvalidArgument;
      reply_error(exchange, bad ? http::status::bad_request : http::status::service_unavailable,
                  body.error().message);
      co_return;
    }
    exchange.respond(http::status::ok, "application/dicom+json", *body);
    co_return;
  }
  // GET /api/timeline?accession=..: the order's steps, from the order to the report.
  if (s.size() == 2 && s[0] == "api" && s[1] == "timeline") {
    if (!allowed(exchange, Use::Get)) co_return;
    const std::string accession = query_parameter(*target, "accession");
    if (accession.empty()) {
      reply_error(exchange, http::status::bad_request, "name the order: ?accession=...");
      co_return;
    }
    const auto timeline = co_await exchange.blocking([&] { return index_.timeline(accession); });
    if (!timeline) {
      reply_error(exchange, http::status::service_unavailable, timeline.error().message);
      co_return;
    }
    if (!*timeline) {
      reply_error(exchange, http::status::not_found, "no order has this accession number");
      co_return;
    }
    exchange.respond(http::status::ok, "application/json", timeline_json(**timeline));
    co_return;
  }
  // GET|PUT /api/outbox/{id}/message: the item's message, to read, and to replace by an edit.
  if (s.size() == 4 && s[0] == "api" && s[1] == "outbox" && s[3] == "message")
    co_return co_await outbox_message(exchange, s[2]);
  // POST /api/outbox/{id}/retry, /api/forwarding/{id}/retry: an unsent item (waiting for its
  // next attempt, or failed for good) is due again now.
  if (s.size() == 4 && s[0] == "api" && (s[1] == "outbox" || s[1] == "forwarding") &&
      s[3] == "retry") {
    if (!allowed(exchange, Use::Post)) co_return;
    const auto id_or_none = id_or_refused(exchange, s[2], "a queue item");
    if (!id_or_none) co_return;
    const std::int64_t id = *id_or_none;
    const std::string& queue = s[1];
    const auto retried = co_await exchange.blocking([&] { return retry_now(index_, queue, id); });
    if (!retried) {
      const bool sent = retried.error().code == ErrorCode::Duplicate;
      reply_error(exchange, sent ? http::status::conflict : http::status::service_unavailable,
                  retried.error().message);
      co_return;
    }
    if (!*retried) {
      reply_error(exchange, http::status::not_found, "no such " + queue + " item");
      co_return;
    }
    exchange.respond(http::status::ok, "application/json",
                     "{\"id\":" + std::to_string(id) + ",\"state\":\"pending\"}\n");
    co_return;
  }
  reply_error(exchange, http::status::not_found, "no such API resource");
}

net::awaitable<void> WorkflowApi::outbox_message(Exchange& exchange, const std::string& id_text) {
  const auto method = exchange.request().method();
  const bool edit = method == http::verb::put;
  if (!edit && !allowed(exchange, Use::Get)) co_return;
  const auto id = id_or_refused(exchange, id_text, "a queue item");
  if (!id) co_return;
  if (!outbox_.render) {
    reply_error(exchange, http::status::not_found, "no HL7 destination is configured");
    co_return;
  }
  if (!edit) {
    const auto message = co_await exchange.blocking([&]() -> Result<std::string> {
      auto item = index_.outbox_item(*id);
      if (!item) return tl::unexpected(item.error());
      if (!*item) return fail(ErrorCode::NotFound, "no such outbox item");
      return outbox_.render(**item);
    });
    if (!message) {
      reply_error(exchange,
                  message.error().code == ErrorCode::NotFound ? http::status::not_found
                                                              : http::status::service_unavailable,
                  message.error().message);
      co_return;
    }
    exchange.respond(http::status::ok, "text/plain; charset=utf-8", with_lf_segment_ends(*message));
    co_return;
  }
  const auto message = co_await edited_message_or_refused(exchange, kMaxEditedMessage);
  if (!message) co_return;
  if (auto checked = outbox_.check(*message); !checked) {
    reply_error(exchange, http::status::bad_request, checked.error().message);
    co_return;
  }
  const std::string actor = requestor(exchange).user_id + " (HTTP API)";
  const auto edited =
      co_await exchange.blocking([&] { return index_.edit_outbox_message(*id, *message, actor); });
  if (!edited) {
    const ErrorCode code = edited.error().code;
    reply_error(exchange,
                code == ErrorCode::NotFound    ? http::status::not_found
                : code == ErrorCode::Duplicate ? http::status::conflict
                                               : http::status::service_unavailable,
                edited.error().message);
    co_return;
  }
  exchange.respond(http::status::ok, "application/json",
                   "{\"id\":" + std::to_string(*id) + ",\"edited\":true}\n");
}

}  // namespace pacs::web
