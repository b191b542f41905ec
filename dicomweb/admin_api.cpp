#include "dicomweb/admin_api.h"

#include <optional>

#include "dicomweb/handlers.h"
#include "dicomweb/url.h"

namespace pacs::web {
namespace {

// The entity a DELETE names, or nullopt when the path names none.
std::optional<RemovalTarget> removal_target(const Target& target) {
  const auto& s = target.segments;  // "api", "admin", ...
  if (s.size() == 4 && s[2] == "patients")
    return RemovalTarget{.level = RemovalLevel::Patient,
                         .patient_id = s[3],
                         .issuer_of_patient_id = query_parameter(target, "issuer")};
  if (s.size() < 4 || s[2] != "studies") return std::nullopt;
  RemovalTarget t{.level = RemovalLevel::Study, .study_uid = s[3]};
  if (s.size() == 4) return t;
  if (s.size() < 6 || s[4] != "series") return std::nullopt;
  t.level = RemovalLevel::Series;
  t.series_uid = s[5];
  if (s.size() == 6) return t;
  if (s.size() != 8 || s[6] != "instances") return std::nullopt;
  t.level = RemovalLevel::Instance;
  t.sop_instance_uid = s[7];
  return t;
}

std::string removed_json(const RemovedObjects& removed) {
  std::string studies;
  for (const RemovedStudy& study : removed.by_study) {
    int count = 0;
    for (const auto& [sop_class, n] : study.sop_classes) count += n;
    studies += (studies.empty() ? "" : ",") + std::string("{\"studyInstanceUID\":") +
               json_string(study.study_uid) + ",\"instances\":" + std::to_string(count) +
               ",\"wholeStudy\":" + (study.whole ? "true" : "false") + "}";
  }
  return "{\"removed\":{\"patients\":" + std::to_string(removed.patients) +
         ",\"studies\":" + std::to_string(removed.studies) +
         ",\"series\":" + std::to_string(removed.series) +
         ",\"instances\":" + std::to_string(removed.instances) + "},\"studies\":[" + studies +
         "]}\n";
}

std::string verdicts_json(const std::vector<RetentionVerdict>& verdicts) {
  std::string out = "[";
  for (const RetentionVerdict& v : verdicts)
    out += std::string(out.size() > 1 ? "," : "") +
           "{\"studyInstanceUID\":" + json_string(v.study.study_uid) +
           ",\"studyDate\":" + json_string(v.study.study_date) +
           ",\"modalities\":" + json_string(v.study.modalities) +
           ",\"instances\":" + std::to_string(v.study.instances) +
           ",\"bytes\":" + std::to_string(v.study.bytes) + ",\"reason\":" + json_string(v.reason) +
           ",\"kept\":" + (v.kept ? "true" : "false") + "}";
  return out + "]\n";
}

http::status status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::NotFound:
      return http::status::not_found;
    case ErrorCode::InvalidArgument:
      return http::status::bad_request;
    default:
      return http::status::service_unavailable;
  }
}

}  // namespace

net::awaitable<void> AdminApi::handle(Exchange& exchange) {
  const auto target = parse_target(exchange.target());
  if (!target) {
    reply_error(exchange, http::status::bad_request, "broken percent-encoding in the URL");
    co_return;
  }
  if (target->segments.size() == 3 && target->segments[2] == "retention")
    co_return co_await retention(exchange);
  const auto removal = removal_target(*target);
  if (!removal) {
    reply_error(exchange, http::status::not_found,
                "no such admin resource: /api/admin/patients/{id} or "
                "/api/admin/studies/{study}[/series/{series}[/instances/{instance}]]");
    co_return;
  }
  if (exchange.request().method() != http::verb::delete_) {
    reply_error(exchange, http::status::method_not_allowed, "use DELETE");
    co_return;
  }
  const audit::Participant who = requestor(exchange);
  const RemovalOrder order{.reason = "deleted", .actor = who.user_id + " (HTTP API)"};
  const auto removed = co_await exchange.blocking(
      [&] { return remover_.remove(*removal, order, who.network_address); });
  if (!removed) {
    reply_error(exchange, status_of(removed.error().code), removed.error().message);
    co_return;
  }
  exchange.respond(http::status::ok, "application/json", removed_json(*removed));
}

net::awaitable<void> AdminApi::retention(Exchange& exchange) {
  const auto method = exchange.request().method();
  const bool run = method == http::verb::post;
  if (!run && method != http::verb::get) {
    reply_error(exchange, http::status::method_not_allowed,
                "GET lists what retention would remove; POST removes it");
    co_return;
  }
  const std::string actor = requestor(exchange).user_id + " (HTTP API)";
  const auto verdicts =
      co_await exchange.blocking([&] { return run ? retention_.run(actor) : retention_.plan(); });
  if (!verdicts) {
    reply_error(exchange, status_of(verdicts.error().code), verdicts.error().message);
    co_return;
  }
  exchange.respond(http::status::ok, "application/json", verdicts_json(*verdicts));
}

}  // namespace pacs::web
