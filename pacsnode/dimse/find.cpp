// C-FIND SCP (PS3.4 C.4.1): one pending response per match, C-CANCEL between them.
#include "pacsnode/dimse/scp.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include <memory>
#include <string>
#include <vector>

#include "pacsnode/dimse/find_responses.h"
#include "storage/model/clock.h"
#include "storage/model/log.h"

namespace pacs::dimse {

OFCondition Scp::handle_find(T_DIMSE_C_FindRQ& request, T_ASC_PresentationContextID id) {
  DcmDataset* received = nullptr;
  OFCondition c = receiveFINDRequest(request, id, received);
  std::unique_ptr<DcmDataset> identifier(received);
  if (c.bad()) return c;
  const QueryModel model = model_of(trimmed(request.AffectedSOPClassUID));
  auto refuse = [&](Uint16 status, const std::string& why) {
    PACS_LOG(Warn) << "C-FIND from " << calling_ << " refused with status 0x" << std::hex << status
                   << std::dec << ": " << why;
    DcmDataset detail;
    detail.putAndInsertString(DCM_ErrorComment, why.substr(0, 64).c_str());
    return sendFINDResponse(id, request.MessageID, request.AffectedSOPClassUID, nullptr, status,
                            &detail);
  };
  auto parsed = context_.query.parse(*identifier, model);
  audit_query(trimmed(request.AffectedSOPClassUID), *identifier, parsed.has_value());
  if (!parsed) return refuse(STATUS_FIND_Error_DataSetDoesNotMatchSOPClass, parsed.error().message);

  const Uint16 pending = parsed->unsupported_optional_keys
                             ? STATUS_FIND_Pending_WarningUnsupportedOptionalKeys
                             : STATUS_FIND_Pending_MatchesAreContinuing;
  bool cancelled = false;
  std::vector<std::string> accessions;  // of the worklist items answered, for their timelines
  FindResponses responses(association_, id, request, pending);
  auto found = context_.query.find(*parsed, [&](DcmDataset& response) {
    if (model == QueryModel::Worklist) {
      OFString accession;
      if (response.findAndGetOFString(DCM_AccessionNumber, accession).good() && !accession.empty())
        accessions.emplace_back(accession.c_str());
    }
    c = responses.add(response);
    // PS3.4 C.4.1.2.3: a C-CANCEL may come at any time; the requester can only react to what it
    // has received, so look for one whenever responses have gone out.
    if (c.good() && responses.just_written() && checkForCANCEL(id, request.MessageID).good()) {
      cancelled = true;
      return false;
    }
    return c.good();
  });
  if (c.good()) c = responses.flush();  // before the final response, which DCMTK sends
  if (c.bad()) return c;                // the association broke while answering
  if (!found) return refuse(STATUS_FIND_Refused_OutOfResources, found.error().message);
  PACS_LOG(Info) << "C-FIND " << (model == QueryModel::Worklist ? "WORKLIST" : parsed->level_name)
                 << " from " << calling_ << ": " << found->matches << " matches"
                 << (cancelled ? " (cancelled)" : "");
  const std::int64_t answered_ms = wall_clock_ms();
  const OFCondition sent = sendFINDResponse(
      id, request.MessageID, request.AffectedSOPClassUID, nullptr,
      cancelled ? STATUS_FIND_Cancel_MatchingTerminatedDueToCancelRequest : STATUS_Success);
  // After the answer, so the modality does not wait for it.
  if (!accessions.empty()) context_.query.note_worklist_query(accessions, calling_, answered_ms);
  return sent;
}

}  // namespace pacs::dimse
