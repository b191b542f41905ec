#include "tests/support/commitment_scu.h"

#include <arpa/inet.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dul.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>

#include "tests/support/node_scu.h"

namespace pacs::testing {
namespace {

std::string text_of(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  item.findAndGetOFString(tag, value);
  return value.c_str();
}

// The report's data set as the SCU reads it.
CommitmentReportSeen read_report(const T_DIMSE_N_EventReportRQ& rq, DcmDataset* information) {
  CommitmentReportSeen seen;
  seen.event_type = rq.EventTypeID;
  if (information == nullptr) return seen;
  seen.transaction_uid = text_of(*information, DCM_TransactionUID);
  DcmSequenceOfItems* sequence = nullptr;
  if (information->findAndGetSequence(DCM_ReferencedSOPSequence, sequence).good() && sequence)
    for (unsigned long i = 0; i < sequence->card(); ++i)
      seen.committed[text_of(*sequence->getItem(i), DCM_ReferencedSOPInstanceUID)] =
          text_of(*sequence->getItem(i), DCM_RetrieveAETitle);
  if (information->findAndGetSequence(DCM_FailedSOPSequence, sequence).good() && sequence)
    for (unsigned long i = 0; i < sequence->card(); ++i) {
      Uint16 reason = 0;
      sequence->getItem(i)->findAndGetUint16(DCM_FailureReason, reason);
      seen.failed[text_of(*sequence->getItem(i), DCM_ReferencedSOPInstanceUID)] = reason;
    }
  return seen;
}

T_DIMSE_Message report_response(const T_DIMSE_N_EventReportRQ& rq) {
  T_DIMSE_Message response{};
  response.CommandField = DIMSE_N_EVENT_REPORT_RSP;
  T_DIMSE_N_EventReportRSP& rsp = response.msg.NEventReportRSP;
  rsp.MessageIDBeingRespondedTo = rq.MessageID;
  rsp.DimseStatus = STATUS_Success;
  rsp.DataSetType = DIMSE_DATASET_NULL;
  rsp.EventTypeID = rq.EventTypeID;
  OFStandard::strlcpy(rsp.AffectedSOPClassUID, rq.AffectedSOPClassUID,
                      sizeof rsp.AffectedSOPClassUID);
  OFStandard::strlcpy(rsp.AffectedSOPInstanceUID, rq.AffectedSOPInstanceUID,
                      sizeof rsp.AffectedSOPInstanceUID);
  rsp.opts = O_NEVENTREPORT_AFFECTEDSOPCLASSUID | O_NEVENTREPORT_AFFECTEDSOPINSTANCEUID |
             O_NEVENTREPORT_EVENTTYPEID;
  return response;
}

}  // namespace

DcmDataset commitment_request(const std::string& transaction_uid,
                              const std::vector<SopReference>& references) {
  DcmDataset information;
  information.putAndInsertString(DCM_TransactionUID, transaction_uid.c_str());
  for (std::size_t i = 0; i < references.size(); ++i) {
    DcmItem* item = nullptr;
    information.findOrCreateSequenceItem(DCM_ReferencedSOPSequence, item, -2);
    item->putAndInsertString(DCM_ReferencedSOPClassUID, references[i].sop_class_uid.c_str());
    item->putAndInsertString(DCM_ReferencedSOPInstanceUID, references[i].sop_instance_uid.c_str());
  }
  return information;
}

CommitmentScu::CommitmentScu(int port, const std::string& aet)
    : context_(associate_with_node(*this, port, aet, UID_StorageCommitmentPushModelSOPClass,
                                   "storage commitment")) {}

CommitmentScu::~CommitmentScu() {
  if (isConnected()) releaseAssociation();
}

int CommitmentScu::request(DcmDataset* information, const Action& action) {
  T_DIMSE_Message request{};
  request.CommandField = DIMSE_N_ACTION_RQ;
  T_DIMSE_N_ActionRQ& rq = request.msg.NActionRQ;
  rq.MessageID = next_message_id_++;
  OFStandard::strlcpy(rq.RequestedSOPClassUID, action.sop_class.c_str(),
                      sizeof rq.RequestedSOPClassUID);
  OFStandard::strlcpy(rq.RequestedSOPInstanceUID, action.sop_instance.c_str(),
                      sizeof rq.RequestedSOPInstanceUID);
  rq.ActionTypeID = action.action_type;
  rq.DataSetType = information ? DIMSE_DATASET_PRESENT : DIMSE_DATASET_NULL;
  if (sendDIMSEMessage(context_, &request, information).bad()) return -1;
  T_ASC_PresentationContextID id = 0;
  T_DIMSE_Message response{};
  DcmDataset* detail = nullptr;
  if (receiveDIMSECommand(&id, &response, &detail).bad()) return -1;
  delete detail;
  if (response.CommandField != DIMSE_N_ACTION_RSP) return -1;
  return response.msg.NActionRSP.DimseStatus;
}

std::optional<CommitmentReportSeen> CommitmentScu::await_report() {
  T_ASC_PresentationContextID id = 0;
  T_DIMSE_Message message{};
  if (receiveDIMSECommand(&id, &message, nullptr).bad()) return std::nullopt;
  if (message.CommandField != DIMSE_N_EVENT_REPORT_RQ) return std::nullopt;
  DcmDataset* received = nullptr;
  if (receiveDIMSEDataset(&id, &received).bad()) return std::nullopt;
  std::unique_ptr<DcmDataset> information(received);
  auto seen = read_report(message.msg.NEventReportRQ, information.get());
  T_DIMSE_Message response = report_response(message.msg.NEventReportRQ);
  if (sendDIMSEMessage(id, &response, nullptr).bad()) return std::nullopt;
  return seen;
}

CommitmentReportListener::CommitmentReportListener(int port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int reuse = 1;
  if (listen_fd_ >= 0) ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));  // 0: the kernel chooses
  socklen_t length = sizeof address;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listen_fd_, 4) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::runtime_error("no loopback listener for commitment reports");
  port_ = ntohs(address.sin_port);
}

CommitmentReportListener::~CommitmentReportListener() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::optional<CommitmentReportSeen> CommitmentReportListener::await(int timeout_seconds) {
  pollfd ready{listen_fd_, POLLIN, 0};
  if (::poll(&ready, 1, timeout_seconds * 1000) != 1) return std::nullopt;
  const int connection = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (connection < 0) return std::nullopt;
  // DCMTK 3.6.7 binds acceptors to every interface; handed an accepted socket instead (its
  // proxy hook, process-wide: tests take one report at a time), it stays on loopback.
  dcmExternalSocketHandle.set(connection);
  T_ASC_Network* network = nullptr;
  T_ASC_Association* association = nullptr;
  OFCondition c = ASC_initializeNetwork(NET_ACCEPTOR, 0, timeout_seconds, &network);
  if (c.good())
    c = ASC_receiveAssociation(network, &association, ASC_DEFAULTMAXPDU, nullptr, nullptr, OFFalse,
                               DUL_NOBLOCK, timeout_seconds);
  dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
  std::optional<CommitmentReportSeen> seen;
  if (c.good()) {
    CommitmentReportSeen about;
    about.calling_aet = association->params->DULparams.callingAPTitle;
    for (int i = 0; i < ASC_countPresentationContexts(association->params); ++i) {
      T_ASC_PresentationContext pc;
      ASC_getPresentationContext(association->params, i, &pc);
      if (std::string(pc.abstractSyntax) == UID_StorageCommitmentPushModelSOPClass) {
        about.proposed_role = pc.proposedRole;
        ASC_acceptPresentationContext(association->params, pc.presentationContextID,
                                      pc.proposedTransferSyntaxes[0], ASC_SC_ROLE_SCP);
      } else {
        ASC_refusePresentationContext(association->params, pc.presentationContextID,
                                      ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
      }
    }
    c = ASC_acknowledgeAssociation(association);
    T_ASC_PresentationContextID id = 0;
    T_DIMSE_Message message{};
    if (c.good())
      c = DIMSE_receiveCommand(association, DIMSE_NONBLOCKING, timeout_seconds, &id, &message,
                               nullptr);
    if (c.good() && message.CommandField == DIMSE_N_EVENT_REPORT_RQ) {
      DcmDataset* received = nullptr;
      c = DIMSE_receiveDataSetInMemory(association, DIMSE_NONBLOCKING, timeout_seconds, &id,
                                       &received, nullptr, nullptr);
      std::unique_ptr<DcmDataset> information(received);
      if (c.good()) {
        auto report = read_report(message.msg.NEventReportRQ, information.get());
        report.calling_aet = about.calling_aet;
        report.proposed_role = about.proposed_role;
        T_DIMSE_Message response = report_response(message.msg.NEventReportRQ);
        c = DIMSE_sendMessageUsingMemoryData(association, id, &response, nullptr, nullptr, nullptr,
                                             nullptr);
        if (c.good()) seen = std::move(report);
      }
    }
    // The node releases once it has the response.
    if (seen)
      c = DIMSE_receiveCommand(association, DIMSE_NONBLOCKING, timeout_seconds, &id, &message,
                               nullptr);
    if (c == DUL_PEERREQUESTEDRELEASE)
      ASC_acknowledgeRelease(association);
    else
      ASC_abortAssociation(association);
  }
  if (association) {
    ASC_dropSCPAssociation(association);
    ASC_destroyAssociation(&association);
  }
  if (network) ASC_dropNetwork(&network);
  return seen;
}

}  // namespace pacs::testing
