// The checks every JSON API under /api makes of a request: its method and its "limit".
#pragma once

#include <cstddef>
#include <optional>

#include "dicomweb/http_server.h"
#include "dicomweb/url.h"

namespace pacs::web {

// The "limit" parameter: 1000 when absent; nullopt with the 400 answer set when it is not 1 to
// 100000.
std::optional<std::size_t> limit_or_refused(Exchange& exchange, const Target& target);

enum class Use { Get, Post };

// Whether the request's method is the resource's (GET takes HEAD too); if not, the 405 is set.
bool allowed(Exchange& exchange, Use use);

// The answer to an operator's action the index refused: 404 for NotFound, 409 for an action the
// state does not allow (InvalidArgument), 503 for the index failing.
http::status status_of_refusal(ErrorCode code);

}  // namespace pacs::web
