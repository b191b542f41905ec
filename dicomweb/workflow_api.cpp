#include "dicomweb/workflow_api.h"

#include "dicomweb/handlers.h"
#include "dicomweb/url.h"

namespace pacs::web {
namespace {

std::string parameter(const Target& target, const std::string& name) {
  for (const auto& [key, value] : target.query)
    if (key == name) return value;
  return {};
}

std::string link_json(const StudyLink& link) {
  return "{\"studyInstanceUID\":" + json_string(link.study_uid) +
         ",\"state\":" + json_string(link.state) + ",\"reason\":" + json_string(link.reason) +
         ",\"placerOrder\":" + json_string(link.placer_order) +
         ",\"fillerOrder\":" + json_string(link.filler_order) +
         ",\"accessionNumber\":" + json_string(link.accession_number) +
         ",\"patientID\":" + json_string(link.patient_id) +
         ",\"updatedMs\":" + std::to_string(link.updated_ms) + "}";
}

}  // namespace

net::awaitable<void> WorkflowApi::handle(Exchange& exchange) {
  const auto target = parse_target(exchange.target());
  if (!target) {
    reply_error(exchange, http::status::bad_request, "broken percent-encoding in the URL");
    co_return;
  }
  const auto& s = target->segments;
  const auto method = exchange.request().method();
  // GET /api/reconciliation[?state=unreconciled|linked][&limit=N]
  if (s.size() == 2 && s[0] == "api" && s[1] == "reconciliation") {
    if (method != http::verb::get && method != http::verb::head) {
      reply_error(exchange, http::status::method_not_allowed, "use GET");
      co_return;
    }
    const std::string state = parameter(*target, "state");
    if (!state.empty() && state != "unreconciled" && state != "linked") {
      reply_error(exchange, http::status::bad_request, "state is unreconciled or linked");
      co_return;
    }
    const std::string limit_text = parameter(*target, "limit");
    std::size_t limit = 1000;
    if (!limit_text.empty()) {
      const auto n = std::strtoul(limit_text.c_str(), nullptr, 10);
      if (n == 0 || n > 100000 || limit_text.find_first_not_of("0123456789") != std::string::npos) {
        reply_error(exchange, http::status::bad_request, "limit is 1 to 100000");
        co_return;
      }
      limit = n;
    }
    const auto links = co_await exchange.blocking([&] { return index_.study_links(state, limit); });
    if (!links) {
      reply_error(exchange, http::status::service_unavailable, links.error().message);
      co_return;
    }
    std::string body = "[";
    for (const StudyLink& link : *links) body += (body.size() > 1 ? "," : "") + link_json(link);
    exchange.respond(http::status::ok, "application/json", body + "]\n");
    co_return;
  }
  // POST /api/reconciliation/{study}/link?placerOrder=..&fillerOrder=..
  if (s.size() == 4 && s[0] == "api" && s[1] == "reconciliation" && s[3] == "link") {
    if (method != http::verb::post) {
      reply_error(exchange, http::status::method_not_allowed, "use POST");
      co_return;
    }
    const std::string placer = parameter(*target, "placerOrder");
    const std::string filler = parameter(*target, "fillerOrder");
    if (placer.empty() && filler.empty()) {
      reply_error(exchange, http::status::bad_request,
                  "name the order: placerOrder and/or fillerOrder");
      co_return;
    }
    const std::string& study = s[2];
    const auto linked = co_await exchange.blocking(
        [&] { return index_.link_study(study, placer, filler, "operator (HTTP API)"); });
    if (!linked) {
      const bool missing = linked.error().code == ErrorCode::NotFound;
      reply_error(exchange, missing ? http::status::not_found : http::status::service_unavailable,
                  linked.error().message);
      co_return;
    }
    exchange.respond(http::status::ok, "application/json",
                     "{\"studyInstanceUID\":" + json_string(study) + ",\"state\":\"linked\"}\n");
    co_return;
  }
  // GET /api/reports/{study}: the study's current report.
  if (s.size() == 3 && s[0] == "api" && s[1] == "reports") {
    if (method != http::verb::get && method != http::verb::head) {
      reply_error(exchange, http::status::method_not_allowed, "use GET");
      co_return;
    }
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
  // GET /api/outbox[?state=pending|sent|failed]: outbound HL7, newest first.
  if (s.size() == 2 && s[0] == "api" && s[1] == "outbox") {
    if (method != http::verb::get && method != http::verb::head) {
      reply_error(exchange, http::status::method_not_allowed, "use GET");
      co_return;
    }
    const std::string state = parameter(*target, "state");
    if (!state.empty() && state != "pending" && state != "sent" && state != "failed") {
      reply_error(exchange, http::status::bad_request, "state is pending, sent or failed");
      co_return;
    }
    const auto items = co_await exchange.blocking([&] { return index_.outbox_items(state, 1000); });
    if (!items) {
      reply_error(exchange, http::status::service_unavailable, items.error().message);
      co_return;
    }
    std::string body = "[";
    for (const OutboxItem& item : *items)
      body += std::string(body.size() > 1 ? "," : "") + "{\"id\":" + std::to_string(item.id) +
              ",\"destination\":" + json_string(item.destination) +
              ",\"event\":" + json_string(item.event) +
              ",\"studyInstanceUID\":" + json_string(item.subject) +
              ",\"detail\":" + json_string(item.detail) + ",\"state\":" + json_string(item.state) +
              ",\"attempts\":" + std::to_string(item.attempts) +
              ",\"lastError\":" + json_string(item.last_error) + "}";
    exchange.respond(http::status::ok, "application/json", body + "]\n");
    co_return;
  }
  reply_error(exchange, http::status::not_found, "no such API resource");
}

}  // namespace pacs::web
