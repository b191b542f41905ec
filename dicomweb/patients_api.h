// Patient merges on the HTTP port, under /api/patients: the merge journal, an operator's merge
// with a preview of what it moves, and an undo that restores the state before a merge.
//   GET  /api/patients/merges[?limit=N]                 the journal, newest first
//   GET  /api/patients/merge?priorPatientID=..&patientID=..[&priorIssuer=..][&issuer=..]
//                                                       preview: what the merge would move
//   POST /api/patients/merge?...                        the same merge, applied
//   POST /api/patients/merges/{id}/undo                 undo a merge
// Each answers with the merge as JSON; a merge the journal refuses (into itself, or one that would
// close a cycle), an undo of an undone merge or of one a later merge depends on get 409.
#pragma once

#include <string_view>

#include "dicomweb/http_server.h"
#include "storage/index.h"

namespace pacs::web {

class PatientsApi {
 public:
  explicit PatientsApi(Index& index) : index_(index) {}
  static bool handles(std::string_view target) {
    return target.starts_with("/api/patients/") || target == "/api/patients";
  }
  net::awaitable<void> handle(Exchange& exchange);

 private:
  Index& index_;
};

}  // namespace pacs::web
