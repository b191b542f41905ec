// The reconciliation work queue on the HTTP port: what needs an operator, with ranked match
// candidates and the reasons, and the actions only the queue has. Linking a study to an order or
// a patient is WorkflowApi's (/api/reconciliation/{study}/link), merging is PatientsApi's.
//   GET  /api/reconciliation/queue[?overdueMinutes=60][&birthDateToleranceDays=0][&limit=N]
//   POST /api/reconciliation/{study}/split?patientID=..[&issuerOfPatientID=..][&patientName=..]
//        [&birthDate=..][&sex=..]      the study moves to that patient (made where none is known)
//   POST /api/reconciliation/conflicts/{id}/resolve[?note=..]   one person after all
#pragma once

#include <string_view>

#include "dicomweb/http_server.h"
#include "storage/index.h"

namespace pacs::web {

class ReconciliationApi {
 public:
  explicit ReconciliationApi(Index& index) : index_(index) {}
  static bool handles(std::string_view target);
  net::awaitable<void> handle(Exchange& exchange);

 private:
  Index& index_;
};

}  // namespace pacs::web
