// The operations endpoints on the HTTP port: /health (the process serves), /ready (it can take
// work: the index answers and the data disk has room) and /metrics (Prometheus text format).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "dicomweb/http_server.h"
#include "storage/model/result.h"

namespace pacs::web {

class OperationsApi {
 public:
  // ready: asked on the worker pool for every /ready; an error is the reason for a 503.
  explicit OperationsApi(std::function<Result<void>()> ready) : ready_(std::move(ready)) {}
  static bool handles(std::string_view target);
  net::awaitable<void> handle(Exchange& exchange);

 private:
  std::function<Result<void>()> ready_;
};

// The route of a request for metric labels: the resource tree's words kept, everything else (UIDs,
// frame lists, tags, names) as {placeholders}, so that the label set stays small whatever the
// clients ask; paths outside the served trees are "other".
std::string route_of(std::string_view target);

}  // namespace pacs::web
