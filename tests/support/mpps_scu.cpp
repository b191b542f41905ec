#include "tests/support/mpps_scu.h"

#include <dcmtk/dcmdata/dcuid.h>

#include <memory>
#include <stdexcept>

#include "tests/support/node_scu.h"

namespace pacs::testing {

MppsScu::MppsScu(int port, const std::string& aet)
    : context_(associate_with_node(*this, port, aet, UID_ModalityPerformedProcedureStepSOPClass,
                                   "MPPS")) {}

MppsScu::~MppsScu() {
  if (isConnected()) releaseAssociation();
}

int MppsScu::exchange(T_DIMSE_Message& request, DcmDataset& dataset) {
  if (sendDIMSEMessage(context_, &request, &dataset).bad()) return -1;
  T_ASC_PresentationContextID id = 0;
  T_DIMSE_Message response{};
  DcmDataset* detail = nullptr;
  if (receiveDIMSECommand(&id, &response, &detail).bad()) return -1;
  delete detail;
  if (response.CommandField == DIMSE_N_CREATE_RSP) return response.msg.NCreateRSP.DimseStatus;
  if (response.CommandField == DIMSE_N_SET_RSP) return response.msg.NSetRSP.DimseStatus;
  return -1;
}

int MppsScu::create(const std::string& uid, DcmDataset& attributes) {
  T_DIMSE_Message request{};
  request.CommandField = DIMSE_N_CREATE_RQ;
  T_DIMSE_N_CreateRQ& rq = request.msg.NCreateRQ;
  rq.MessageID = next_message_id_++;
  OFStandard::strlcpy(rq.AffectedSOPClassUID, UID_ModalityPerformedProcedureStepSOPClass,
                      sizeof rq.AffectedSOPClassUID);
  OFStandard::strlcpy(rq.AffectedSOPInstanceUID, uid.c_str(), sizeof rq.AffectedSOPInstanceUID);
  rq.opts = O_NCREATE_AFFECTEDSOPINSTANCEUID;
  rq.DataSetType = DIMSE_DATASET_PRESENT;
  return exchange(request, attributes);
}

int MppsScu::set(const std::string& uid, DcmDataset& modifications) {
  T_DIMSE_Message request{};
  request.CommandField = DIMSE_N_SET_RQ;
  T_DIMSE_N_SetRQ& rq = request.msg.NSetRQ;
  rq.MessageID = next_message_id_++;
  OFStandard::strlcpy(rq.RequestedSOPClassUID, UID_ModalityPerformedProcedureStepSOPClass,
                      sizeof rq.RequestedSOPClassUID);
  OFStandard::strlcpy(rq.RequestedSOPInstanceUID, uid.c_str(), sizeof rq.RequestedSOPInstanceUID);
  rq.DataSetType = DIMSE_DATASET_PRESENT;
  return exchange(request, modifications);
}

}  // namespace pacs::testing
