// The checks every JSON API under /api makes of a request: its method and its "limit".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "dicomweb/http_server.h"
#include "dicomweb/url.h"

namespace pacs::web {

// The "limit" parameter: 1000 when absent; nullopt with the 400 answer set when it is not 1 to
// 100000.
std::optional<std::size_t> limit_or_refused(Exchange& exchange, const Target& target);

enum class Use { Get, Post };

// Whether the request's method is the resource's (GET takes HEAD too); if not, the 405 is set.
bool allowed(Exchange& exchange, Use use);

// A resource's number from the path (a queue item, a dead letter: `what`); nullopt (with the
// 400 set) when it is not one.
std::optional<std::int64_t> id_or_refused(Exchange& exchange, const std::string& text,
                                          const std::string& what);

// HL7 segments end in CR on the wire; an operator's editor writes LF or CRLF.
std::string with_cr_segment_ends(const std::string& text);
// For reading: one segment per line.
std::string with_lf_segment_ends(std::string text);
// The request body as an operator's edit of an HL7 message (CR segment ends); nullopt (with the
// 413 set) when it is longer than max_bytes.
net::awaitable<std::optional<std::string>> edited_message_or_refused(Exchange& exchange,
                                                                     std::size_t max_bytes);

// The answer to an operator's action the index refused: 404 for NotFound, 409 for an action the
// state does not allow (InvalidArgument), 503 for the index failing.
http::status status_of_refusal(ErrorCode code);

}  // namespace pacs::web
