// MPPS SCP on the DIMSE face (PS3.4 F.7): N-CREATE and N-SET requests to the MPPS service, and
// their responses. DcmSCP has no helpers for N-services, so the messages are built here.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/ofstd/ofstd.h>

#include <memory>

#include "pacsnode/dimse/scp.h"
#include "storage/model/log.h"

namespace pacs::dimse {
namespace {

// The status detail of a failure: its Error Comment.
std::unique_ptr<DcmDataset> detail_of(const MppsOutcome& outcome) {
  if (outcome.status == 0) return nullptr;
  return error_comment(outcome.error_comment);
}

void log_refusal(const char* what, const std::string& uid, const std::string& calling,
                 const MppsOutcome& outcome) {
  if (outcome.status == 0) return;
  PACS_LOG(Warn) << "MPPS " << what << " " << uid << " from " << calling
                 << " refused with status 0x" << std::hex << outcome.status << std::dec << ": "
                 << outcome.error_comment;
}

// N-CREATE-RSP and N-SET-RSP have the same fields: the step, and the outcome's status.
template <typename Response>
void fill_response(Response& rsp, DIC_US message_id, const char* sop_class, const std::string& uid,
                   const MppsOutcome& outcome, unsigned int opts) {
  rsp.MessageIDBeingRespondedTo = message_id;
  rsp.DimseStatus = outcome.status;
  rsp.DataSetType = DIMSE_DATASET_NULL;
  OFStandard::strlcpy(rsp.AffectedSOPClassUID, sop_class, sizeof rsp.AffectedSOPClassUID);
  OFStandard::strlcpy(rsp.AffectedSOPInstanceUID, uid.c_str(), sizeof rsp.AffectedSOPInstanceUID);
  rsp.opts = opts;
}

}  // namespace

OFCondition Scp::handle_ncreate(T_DIMSE_N_CreateRQ& request, T_ASC_PresentationContextID id) {
  std::unique_ptr<DcmDataset> attributes;
  if (const OFCondition c = receive_dataset(id, attributes); c.bad()) return c;
  // The SCU names the new step; when it does not, the SCP does (PS3.4 F.7.2.1.1).
  std::string uid = (request.opts & O_NCREATE_AFFECTEDSOPINSTANCEUID)
                        ? trimmed(request.AffectedSOPInstanceUID)
                        : std::string();
  if (uid.empty()) {
    char generated[100];
    uid = dcmGenerateUniqueIdentifier(generated, SITE_INSTANCE_UID_ROOT);
  }
  const MppsOutcome outcome = attributes ? context_.mpps.create(uid, *attributes)
                                         : MppsOutcome{0x0120, "no attribute list"};
  log_refusal("N-CREATE", uid, calling_, outcome);
  T_DIMSE_Message response{};
  response.CommandField = DIMSE_N_CREATE_RSP;
  fill_response(response.msg.NCreateRSP, request.MessageID, request.AffectedSOPClassUID, uid,
                outcome, O_NCREATE_AFFECTEDSOPCLASSUID | O_NCREATE_AFFECTEDSOPINSTANCEUID);
  const auto detail = detail_of(outcome);
  return sendDIMSEMessage(id, &response, nullptr, detail.get());
}

OFCondition Scp::handle_nset(T_DIMSE_N_SetRQ& request, T_ASC_PresentationContextID id) {
  std::unique_ptr<DcmDataset> modifications;
  if (const OFCondition c = receive_dataset(id, modifications); c.bad()) return c;
  const std::string uid = trimmed(request.RequestedSOPInstanceUID);
  const MppsOutcome outcome = modifications ? context_.mpps.set(uid, *modifications)
                                            : MppsOutcome{0x0120, "no modification list"};
  log_refusal("N-SET", uid, calling_, outcome);
  T_DIMSE_Message response{};
  response.CommandField = DIMSE_N_SET_RSP;
  fill_response(response.msg.NSetRSP, request.MessageID, request.RequestedSOPClassUID, uid, outcome,
                O_NSET_AFFECTEDSOPCLASSUID | O_NSET_AFFECTEDSOPINSTANCEUID);
  const auto detail = detail_of(outcome);
  return sendDIMSEMessage(id, &response, nullptr, detail.get());
}

}  // namespace pacs::dimse
