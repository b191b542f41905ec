#include "dicomweb/patients_api.h"

#include <charconv>

#include "dicomweb/api_requests.h"
#include "dicomweb/dicom_json.h"
#include "dicomweb/handlers.h"
#include "dicomweb/url.h"

namespace pacs::web {
namespace {

std::string merge_json(const MergeRecord& m) {
  std::string studies = "[";
  for (const std::string& uid : m.study_uids)
    studies += (studies.size() > 1 ? "," : "") + json_string(uid);
  return "{\"id\":" + std::to_string(m.id) +
         ",\"priorPatientID\":" + json_string(m.prior_patient_id) +
         ",\"priorIssuer\":" + json_string(m.prior_issuer) +
         ",\"patientID\":" + json_string(m.surviving_patient_id) +
         ",\"issuer\":" + json_string(m.surviving_issuer) + ",\"actor\":" + json_string(m.actor) +
         ",\"state\":" + json_string(m.state) + ",\"mergedMs\":" + std::to_string(m.merged_ms) +
         ",\"undoneMs\":" + std::to_string(m.undone_ms) + ",\"studies\":" + studies + "]" +
         ",\"orders\":" + std::to_string(m.orders) +
         ",\"worklistItems\":" + std::to_string(m.worklist_items) +
         ",\"alreadyApplied\":" + (m.already_applied ? "true" : "false") + "}";
}

void respond_with(Exchange& exchange, const Result<MergeRecord>& merged) {
  if (!merged)
    reply_error(exchange, status_of_refusal(merged.error().code), merged.error().message);
  else
    exchange.respond(http::status::ok, "application/json", merge_json(*merged) + "\n");
}

}  // namespace

net::awaitable<void> PatientsApi::handle(Exchange& exchange) {
  const auto target = parse_target(exchange.target());
  if (!target) {
    reply_error(exchange, http::status::bad_request, "broken percent-encoding in the URL");
    co_return;
  }
  const auto& s = target->segments;  // "api", "patients", ...
  const auto method = exchange.request().method();
  const std::string actor = requestor(exchange).user_id + " (HTTP API)";
  if (s.size() == 3 && s[2] == "merges") {
    if (!allowed(exchange, Use::Get)) co_return;
    const auto limit = limit_or_refused(exchange, *target);
    if (!limit) co_return;
    const auto journal = co_await exchange.blocking([&] { return index_.patient_merges(*limit); });
    if (!journal) {
      reply_error(exchange, http::status::service_unavailable, journal.error().message);
      co_return;
    }
    std::string body = "[";
    for (const MergeRecord& m : *journal) body += (body.size() > 1 ? "," : "") + merge_json(m);
    exchange.respond(http::status::ok, "application/json", body + "]\n");
    co_return;
  }
  if (s.size() == 3 && s[2] == "merge") {
    const bool apply = method == http::verb::post;
    if (!apply && !allowed(exchange, Use::Get)) co_return;
    PatientChange change;
    change.merge = true;
    change.prior_patient_id = query_parameter(*target, "priorPatientID");
    change.prior_issuer_of_patient_id = query_parameter(*target, "priorIssuer");
    change.patient_id = query_parameter(*target, "patientID");
    change.issuer_of_patient_id = query_parameter(*target, "issuer");
    if (change.prior_patient_id.empty() || change.patient_id.empty()) {
      reply_error(exchange, http::status::bad_request,
                  "name the prior patient (priorPatientID, priorIssuer) and the surviving one "
                  "(patientID, issuer)");
      co_return;
    }
    const auto merged =
        co_await exchange.blocking([&] { return index_.merge_patients(change, actor, apply); });
    respond_with(exchange, merged);
    co_return;
  }
  if (s.size() == 5 && s[2] == "merges" && s[4] == "undo") {
    if (!allowed(exchange, Use::Post)) co_return;
    std::int64_t id = 0;
    const auto [end, error] = std::from_chars(s[3].data(), s[3].data() + s[3].size(), id);
    if (error != std::errc() || end != s[3].data() + s[3].size() || id <= 0) {
      reply_error(exchange, http::status::bad_request, "a merge id is a positive number");
      co_return;
    }
    const auto undone =
        co_await exchange.blocking([&] { return index_.unmerge_patients(id, actor); });
    respond_with(exchange, undone);
    co_return;
  }
  reply_error(exchange, http::status::not_found,
              "no such resource: /api/patients/merges, /api/patients/merge, "
              "/api/patients/merges/{id}/undo");
}

}  // namespace pacs::web
