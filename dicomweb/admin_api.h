// The admin JSON API on the HTTP port, under /api/admin (admin access for every method): removal
// of a patient, study, series or instance from the archive.
//   DELETE /api/admin/patients/{PatientID}[?issuer=...]
//   DELETE /api/admin/studies/{study}[/series/{series}[/instances/{instance}]]
#pragma once

#include <string_view>

#include "dicomweb/http_server.h"
#include "pacsnode/services/removal.h"

namespace pacs::web {

class AdminApi {
 public:
  explicit AdminApi(Remover& remover) : remover_(remover) {}
  static bool handles(std::string_view target) {
    return target.starts_with("/api/admin/") || target == "/api/admin";
  }
  net::awaitable<void> handle(Exchange& exchange);

 private:
  Remover& remover_;
};

}  // namespace pacs::web
