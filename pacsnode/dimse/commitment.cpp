// Storage Commitment Push Model SCP (PS3.4 J.3): N-ACTION answered "request received", the
// referenced instances checked by the commitment service, and the outcome reported with an
// N-EVENT-REPORT on this association or on a new one (see CommitmentReportMode).
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/ofstd/ofstd.h>

#include <map>
#include <memory>

#include "pacsnode/dimse/commitment_messages.h"
#include "pacsnode/dimse/commitment_reporter.h"
#include "pacsnode/dimse/scp.h"
#include "security/audit_trail.h"
#include "storage/model/log.h"

namespace pacs::dimse {

OFCondition Scp::handle_naction(T_DIMSE_N_ActionRQ& request, T_ASC_PresentationContextID id) {
  // Without a data set announced, none follows: reading one would wait for the DIMSE timeout.
  std::unique_ptr<DcmDataset> information;
  if (request.DataSetType != DIMSE_DATASET_NULL)
    if (const OFCondition c = receive_dataset(id, information); c.bad()) return c;
  CommitmentRequest parsed;
  const ActionVerdict verdict = read_commitment_request(request, information.get(), parsed);

  T_DIMSE_Message response{};
  response.CommandField = DIMSE_N_ACTION_RSP;
  T_DIMSE_N_ActionRSP& rsp = response.msg.NActionRSP;
  rsp.MessageIDBeingRespondedTo = request.MessageID;
  rsp.DimseStatus = verdict.status;
  rsp.DataSetType = DIMSE_DATASET_NULL;
  OFStandard::strlcpy(rsp.AffectedSOPClassUID, request.RequestedSOPClassUID,
                      sizeof rsp.AffectedSOPClassUID);
  OFStandard::strlcpy(rsp.AffectedSOPInstanceUID, request.RequestedSOPInstanceUID,
                      sizeof rsp.AffectedSOPInstanceUID);
  rsp.ActionTypeID = request.ActionTypeID;
  rsp.opts = O_NACTION_AFFECTEDSOPCLASSUID | O_NACTION_AFFECTEDSOPINSTANCEUID |
             (verdict.status == 0 ? O_NACTION_ACTIONTYPEID : 0);
  if (verdict.status != 0) {
    PACS_LOG(Warn) << "storage commitment N-ACTION from " << calling_ << " refused with status 0x"
                   << std::hex << verdict.status << std::dec << ": " << verdict.why;
    const auto detail = error_comment(verdict.why);
    return sendDIMSEMessage(id, &response, nullptr, detail.get());
  }
  // 0000 means "request received" (PS3.4 J.3.2.1.2); what was committed follows in the report.
  if (const OFCondition c = sendDIMSEMessage(id, &response, nullptr); c.bad()) return c;

  CommitmentReport report{calling_, parsed.transaction_uid,
                          context_.commitment.commit(parsed.transaction_uid, parsed.references)};
  PACS_LOG(Info) << "storage commitment " << report.transaction_uid << " from " << calling_ << ": "
                 << report.outcome.committed.size() << " committed, "
                 << report.outcome.failed.size() << " failed";
  audit_commitment(report.outcome);
  // On this association only while the requester waits quietly: anything it sent meanwhile (its
  // release request, most likely) means it no longer expects the report here.
  if (context_.options.commitment_report == CommitmentReportMode::Same && association_ &&
      !ASC_dataWaiting(association_, 0)) {
    auto sent =
        send_event_report(association_, id, next_message_id_++, report, context_.options.aet,
                          static_cast<int>(context_.options.timeout_seconds));
    if (sent) {
      if (*sent != 0)
        PACS_LOG(Warn) << "storage commitment " << report.transaction_uid << ": " << calling_
                       << " answered the report with status 0x" << std::hex << *sent << std::dec;
      return EC_Normal;
    }
    PACS_LOG(Warn) << "storage commitment " << report.transaction_uid
                   << ": report not acknowledged on the requester's association ("
                   << sent.error().text() << "); trying a new association";
    context_.reporter.submit(std::move(report));
    // A release request that arrived instead is acknowledged by DcmSCP's loop; anything else
    // aborts the association.
    return sent.error();
  }
  context_.reporter.submit(std::move(report));
  return EC_Normal;
}

void Scp::audit_commitment(const CommitmentOutcome& outcome) {
  audit::TransferTally committed;
  std::map<std::string, std::string> patients;  // by study: one index lookup per study
  for (const auto& instance : outcome.committed) {
    auto [it, fresh] = patients.try_emplace(instance.study_uid);
    if (fresh) it->second = context_.retrieve.patient_of_study(instance.study_uid);
    committed.add(instance.study_uid, it->second, instance.reference.sop_class_uid);
  }
  audit::record(audit::instances_committed(
      outcome.failed.empty() ? 0 : 4, audit::remote(calling_, peer_address_, true),
      audit::node_participant(context_.options.aet, false), committed.studies()));
}

}  // namespace pacs::dimse
