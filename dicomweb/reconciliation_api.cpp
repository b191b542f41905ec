#include "dicomweb/reconciliation_api.h"

#include <charconv>

#include "dicomweb/api_requests.h"
#include "dicomweb/dicom_json.h"
#include "dicomweb/handlers.h"
#include "dicomweb/url.h"
#include "pacsnode/services/reconciliation_queue.h"
#include "storage/model/clock.h"

namespace pacs::web {
namespace {

std::string patient_json(const PatientFacts& p) {
  return "{\"patientID\":" + json_string(p.patient_id) +
         ",\"issuerOfPatientID\":" + json_string(p.issuer_of_patient_id) +
         ",\"patientName\":" + json_string(p.name) + ",\"birthDate\":" + json_string(p.birth_date) +
         ",\"sex\":" + json_string(p.sex) + "}";
}

std::string candidate_json(const MatchCandidate& c) {
  std::string reasons = "[";
  for (const std::string& why : c.reasons)
    reasons += (reasons.size() > 1 ? "," : "") + json_string(why);
  return "{\"kind\":" + json_string(to_string(c.kind)) + ",\"score\":" + std::to_string(c.score) +
         ",\"reasons\":" + reasons + "]" + ",\"placerOrder\":" + json_string(c.placer_order) +
         ",\"fillerOrder\":" + json_string(c.filler_order) +
         ",\"accessionNumber\":" + json_string(c.accession_number) +
         ",\"studyInstanceUID\":" + json_string(c.study_uid) +
         ",\"patient\":" + patient_json(c.patient) + "}";
}

std::string item_json(const WorkItem& item) {
  std::string out = "{\"kind\":" + json_string(to_string(item.kind));
  if (item.study) {
    const UnscheduledStudy& s = *item.study;
    out += ",\"study\":{\"studyInstanceUID\":" + json_string(s.study_uid) +
           ",\"accessionNumber\":" + json_string(s.accession_number) +
           ",\"studyDate\":" + json_string(s.study_date) +
           ",\"studyTime\":" + json_string(s.study_time) +
           ",\"modalities\":" + json_string(s.modalities) + ",\"reason\":" + json_string(s.reason) +
           ",\"sinceMs\":" + std::to_string(s.since_ms) +
           ",\"patient\":" + patient_json(s.patient) + "}";
  }
  if (item.order) {
    const OpenOrder& o = *item.order;
    out += ",\"order\":{\"placerOrder\":" + json_string(o.placer_order) +
           ",\"fillerOrder\":" + json_string(o.filler_order) +
           ",\"accessionNumber\":" + json_string(o.accession_number) +
           ",\"status\":" + json_string(o.status) + ",\"modality\":" + json_string(o.modality) +
           ",\"startDate\":" + json_string(o.start_date) +
           ",\"startTime\":" + json_string(o.start_time) +
           ",\"patient\":" + patient_json(o.patient) +
           "},\"overdueMinutes\":" + std::to_string(item.overdue_minutes);
  }
  if (item.conflict) {
    const IdentityConflict& k = *item.conflict;
    out += ",\"conflict\":{\"id\":" + std::to_string(k.id) +
           ",\"studyInstanceUID\":" + json_string(k.study_uid) +
           ",\"placerOrder\":" + json_string(k.placer_order) +
           ",\"fillerOrder\":" + json_string(k.filler_order) +
           ",\"detectedMs\":" + std::to_string(k.detected_ms) +
           ",\"known\":" + patient_json(k.known) + ",\"arrived\":" + patient_json(k.arrived) + "}";
  }
  std::string candidates = "[";
  for (const MatchCandidate& c : item.candidates)
    candidates += (candidates.size() > 1 ? "," : "") + candidate_json(c);
  return out + ",\"candidates\":" + candidates + "]}";
}

// A whole number from 0 to max, or nullopt (with the 400 set) when the parameter is something else.
std::optional<int> number_or_refused(Exchange& exchange, const Target& target, const char* name,
                                     int fallback, int max) {
  const std::string text = query_parameter(target, name);
  if (text.empty()) return fallback;
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0 || value > max) {
    reply_error(exchange, http::status::bad_request,
                std::string(name) + " is a whole number from 0 to " + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

}  // namespace

bool ReconciliationApi::handles(std::string_view target) {
  const auto path = path_of(target);
  constexpr std::string_view kRoot = "/api/reconciliation/";
  if (!path.starts_with(kRoot)) return false;
  const auto rest = path.substr(kRoot.size());
  return rest == "queue" || rest.starts_with("conflicts/") || rest.ends_with("/split");
}

net::awaitable<void> ReconciliationApi::handle(Exchange& exchange) {
  const auto target = parse_target(exchange.target());
  if (!target) {
    reply_error(exchange, http::status::bad_request, "broken percent-encoding in the URL");
    co_return;
  }
  const auto& s = target->segments;  // "api", "reconciliation", ...
  const std::string actor = requestor(exchange).user_id + " (HTTP API)";
  if (s.size() == 3 && s[2] == "queue") {
    if (!allowed(exchange, Use::Get)) co_return;
    const auto limit = limit_or_refused(exchange, *target);
    if (!limit) co_return;
    const auto overdue = number_or_refused(exchange, *target, "overdueMinutes", 60, 525600);
    if (!overdue) co_return;
    const auto tolerance = number_or_refused(exchange, *target, "birthDateToleranceDays", 0, 3660);
    if (!tolerance) co_return;
    const auto facts =
        co_await exchange.blocking([&] { return index_.reconciliation_facts(*limit); });
    if (!facts) {
      reply_error(exchange, http::status::service_unavailable, facts.error().message);
      co_return;
    }
    QueueOptions options;
    options.now_ms = wall_clock_ms();
    options.overdue_after_minutes = *overdue;
    options.birth_date_tolerance_days = *tolerance;
    std::string body = "{\"items\":[";
    bool first = true;
    for (const WorkItem& item : work_queue(*facts, options)) {
      body += (first ? "" : ",") + item_json(item);
      first = false;
    }
    exchange.respond(http::status::ok, "application/json", body + "]}\n");
    co_return;
  }
  if (s.size() == 4 && s[3] == "split") {
    if (!allowed(exchange, Use::Post)) co_return;
    const PatientFacts to{query_parameter(*target, "patientID"),
                          query_parameter(*target, "issuerOfPatientID"),
                          query_parameter(*target, "patientName"),
                          query_parameter(*target, "birthDate"), query_parameter(*target, "sex")};
    if (to.patient_id.empty()) {
      reply_error(exchange, http::status::bad_request,
                  "name the patient the study goes to (patientID, issuerOfPatientID)");
      co_return;
    }
    const std::string& study = s[2];
    const auto split =
        co_await exchange.blocking([&] { return index_.split_study(study, to, actor); });
    if (!split) {
      reply_error(exchange, status_of_refusal(split.error().code), split.error().message);
      co_return;
    }
    exchange.respond(
        http::status::ok, "application/json",
        "{\"studyInstanceUID\":" + json_string(study) + ",\"patient\":" + patient_json(to) + "}\n");
    co_return;
  }
  if (s.size() == 5 && s[2] == "conflicts" && s[4] == "resolve") {
    if (!allowed(exchange, Use::Post)) co_return;
    std::int64_t id = 0;
    const auto [end, error] = std::from_chars(s[3].data(), s[3].data() + s[3].size(), id);
    if (error != std::errc() || end != s[3].data() + s[3].size() || id <= 0) {
      reply_error(exchange, http::status::bad_request, "a conflict id is a positive number");
      co_return;
    }
    const std::string note = query_parameter(*target, "note");
    const auto resolved = co_await exchange.blocking(
        [&] { return index_.resolve_identity_conflict(id, actor, note); });
    if (!resolved) {
      reply_error(exchange, status_of_refusal(resolved.error().code), resolved.error().message);
      co_return;
    }
    exchange.respond(http::status::ok, "application/json",
                     "{\"id\":" + std::to_string(id) + ",\"state\":\"resolved\"}\n");
    co_return;
  }
  reply_error(exchange, http::status::not_found,
              "no such resource: /api/reconciliation/queue, /api/reconciliation/{study}/split, "
              "/api/reconciliation/conflicts/{id}/resolve");
}

}  // namespace pacs::web
