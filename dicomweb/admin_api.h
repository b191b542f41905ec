// The admin JSON API on the HTTP port, under /api/admin (admin access for every method): removal
// of a patient, study, series or instance from the archive, and the retention rules.
//   DELETE /api/admin/patients/{PatientID}[?issuer=...]
//   DELETE /api/admin/studies/{study}[/series/{series}[/instances/{instance}]]
//   GET    /api/admin/retention   what the rules would remove now, and why (a dry run)
//   POST   /api/admin/retention   remove it now
#pragma once

#include <string_view>

#include "dicomweb/http_server.h"
#include "pacsnode/services/removal.h"
#include "pacsnode/services/retention.h"

namespace pacs::web {

class AdminApi {
 public:
  AdminApi(Remover& remover, Retention& retention) : remover_(remover), retention_(retention) {}
  static bool handles(std::string_view target) {
    return target.starts_with("/api/admin/") || target == "/api/admin";
  }
  net::awaitable<void> handle(Exchange& exchange);

 private:
  net::awaitable<void> retention(Exchange& exchange);

  Remover& remover_;
  Retention& retention_;
};

}  // namespace pacs::web
