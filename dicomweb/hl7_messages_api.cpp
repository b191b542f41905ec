#include "dicomweb/hl7_messages_api.h"

#include "dicomweb/api_requests.h"
#include "dicomweb/dicom_json.h"
#include "dicomweb/handlers.h"
#include "dicomweb/url.h"
#include "storage/model/log.h"

namespace pacs::web {
namespace {

std::string message_json(const LoggedMessage& logged) {
  const MessageRecord& m = logged.message;
  return "{\"id\":" + std::to_string(logged.id) + ",\"sender\":" + json_string(m.sender) +
         ",\"controlId\":" + json_string(m.control_id) +
         ",\"messageType\":" + json_string(m.message_type) +
         ",\"ackCode\":" + json_string(m.ack_code) + ",\"ack\":" + json_string(m.ack) +
         ",\"state\":" + json_string(logged.state) +
         ",\"receivedMs\":" + std::to_string(logged.received_ms) + "}";
}

}  // namespace

net::awaitable<void> Hl7MessagesApi::handle(Exchange& exchange) {
  const auto target = parse_target(exchange.target());
  if (!target) {
    reply_error(exchange, http::status::bad_request, "broken percent-encoding in the URL");
    co_return;
  }
  const auto& s = target->segments;  // "api", "hl7", "messages", ...
  if (s.size() == 3) {
    if (!allowed(exchange, Use::Get)) co_return;
    const auto limit = limit_or_refused(exchange, *target);
    if (!limit) co_return;
    const std::string control_id = query_parameter(*target, "controlId");
    const std::string state = query_parameter(*target, "state");
    if (!state.empty() && state != "dead") {
      reply_error(exchange, http::status::bad_request, "state is dead (or absent, for all)");
      co_return;
    }
    const auto messages = co_await exchange.blocking(
        [&] { return index_.logged_messages(control_id, state, *limit); });
    if (!messages) {
      reply_error(exchange, http::status::service_unavailable, messages.error().message);
      co_return;
    }
    std::string body = "[";
    for (const LoggedMessage& m : *messages) body += (body.size() > 1 ? "," : "") + message_json(m);
    exchange.respond(http::status::ok, "application/json", body + "]\n");
    co_return;
  }
  const bool text = s.size() == 5 && s[4] == "message";
  const bool replay = s.size() == 5 && s[4] == "replay";
  if (!text && !replay) {
    reply_error(exchange, http::status::not_found,
                "no such resource: /api/hl7/messages, /api/hl7/messages/{id}/message, "
                "/api/hl7/messages/{id}/replay");
    co_return;
  }
  const auto id = id_or_refused(exchange, s[3], "a logged message");
  if (!id) co_return;
  const std::string actor = requestor(exchange).user_id + " (HTTP API)";
  if (replay) {
    if (!allowed(exchange, Use::Post)) co_return;
    const auto ack = co_await exchange.blocking([&] { return actions_.replay(*id); });
    if (!ack) {
      reply_error(exchange, status_of_refusal(ack.error().code), ack.error().message);
      co_return;
    }
    PACS_LOG(Info) << "HL7 dead letter " << *id << " replayed by " << actor;
    const std::string code = ack->find("MSA|AA") != std::string::npos   ? "AA"
                             : ack->find("MSA|AE") != std::string::npos ? "AE"
                                                                        : "AR";
    exchange.respond(http::status::ok, "application/json",
                     "{\"id\":" + std::to_string(*id) + ",\"ackCode\":" + json_string(code) +
                         ",\"ack\":" + json_string(*ack) + "}\n");
    co_return;
  }
  if (exchange.request().method() != http::verb::put) {
    if (!allowed(exchange, Use::Get)) co_return;
    const auto logged = co_await exchange.blocking([&] { return index_.logged_message(*id); });
    if (!logged) {
      reply_error(exchange, http::status::service_unavailable, logged.error().message);
      co_return;
    }
    if (!*logged || (*logged)->state != "dead") {
      reply_error(exchange, http::status::not_found,
                  "no dead letter " + std::to_string(*id) + " (only refused messages are kept)");
      co_return;
    }
    exchange.respond(http::status::ok, "text/plain; charset=utf-8",
                     with_lf_segment_ends((*logged)->message.message));
    co_return;
  }
  const auto message = co_await edited_message_or_refused(exchange, actions_.max_message_bytes);
  if (!message) co_return;
  if (auto checked = actions_.check(*message); !checked) {
    reply_error(exchange, http::status::bad_request, checked.error().message);
    co_return;
  }
  const auto edited =
      co_await exchange.blocking([&] { return index_.edit_logged_message(*id, *message, actor); });
  if (!edited) {
    reply_error(exchange, status_of_refusal(edited.error().code), edited.error().message);
    co_return;
  }
  exchange.respond(http::status::ok, "application/json",
                   "{\"id\":" + std::to_string(*id) + ",\"edited\":true}\n");
}

}  // namespace pacs::web
