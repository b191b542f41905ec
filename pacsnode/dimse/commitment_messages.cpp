#include "pacsnode/dimse/commitment_messages.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/ofstd/ofstd.h>

#include "pacsnode/dimse/scp.h"
#include "storage/dicom_attributes.h"
#include "storage/model/uid.h"

namespace pacs::dimse {
namespace {

// N-ACTION statuses (PS3.7 10.1.4.1.10; the list PS3.4 J.3.2 allows). Missing Attribute (0120)
// is not among them: an absent or empty argument is an invalid argument value.
constexpr std::uint16_t kInvalidArgumentValue = 0x0115;
constexpr std::uint16_t kNoSuchSopInstance = 0x0112;
constexpr std::uint16_t kInvalidSopInstance = 0x0117;
constexpr std::uint16_t kNoSuchSopClass = 0x0118;
constexpr std::uint16_t kNoSuchAction = 0x0123;
constexpr std::uint16_t kResourceLimitation = 0x0213;

void put_reference(DcmItem& item, const ReferencedInstance& reference) {
  item.putAndInsertString(DCM_ReferencedSOPClassUID, reference.sop_class_uid.c_str());
  item.putAndInsertString(DCM_ReferencedSOPInstanceUID, reference.sop_instance_uid.c_str());
}

}  // namespace

ActionVerdict read_commitment_request(const T_DIMSE_N_ActionRQ& request, DcmDataset* information,
                                      CommitmentRequest& out) {
  const std::string sop_class = trimmed(request.RequestedSOPClassUID);
  const std::string instance = trimmed(request.RequestedSOPInstanceUID);
  if (sop_class != UID_StorageCommitmentPushModelSOPClass)
    return {kNoSuchSopClass, "N-ACTION for SOP class " + sop_class};
  // The service has one well-known instance (PS3.4 J.3.5): anything else is no instance of ours,
  // or not a UID at all.
  if (instance != UID_StorageCommitmentPushModelSOPInstance)
    return {Uid::parse(instance) ? kNoSuchSopInstance : kInvalidSopInstance,
            "requested SOP instance " + instance + " is not " +
                UID_StorageCommitmentPushModelSOPInstance};
  if (request.ActionTypeID != 1)
    return {kNoSuchAction, "action type " + std::to_string(request.ActionTypeID) + ", not 1"};
  if (information == nullptr) return {kInvalidArgumentValue, "no action information"};
  out.transaction_uid = attribute_text(*information, DCM_TransactionUID);
  if (out.transaction_uid.empty()) return {kInvalidArgumentValue, "no Transaction UID"};
  if (!Uid::parse(out.transaction_uid))
    return {kInvalidArgumentValue, "Transaction UID is not a UID"};
  DcmSequenceOfItems* sequence = nullptr;
  if (information->findAndGetSequence(DCM_ReferencedSOPSequence, sequence).bad() ||
      sequence == nullptr || sequence->card() == 0)
    return {kInvalidArgumentValue, "no Referenced SOP Sequence items"};
  if (sequence->card() > kMaxCommitmentReferences)
    return {kResourceLimitation, std::to_string(sequence->card()) + " references, more than " +
                                     std::to_string(kMaxCommitmentReferences)};
  out.references.clear();
  for (unsigned long i = 0; i < sequence->card(); ++i) {
    DcmItem* item = sequence->getItem(i);
    ReferencedInstance reference{item ? attribute_text(*item, DCM_ReferencedSOPClassUID) : "",
                                 item ? attribute_text(*item, DCM_ReferencedSOPInstanceUID) : ""};
    if (!Uid::parse(reference.sop_class_uid) || !Uid::parse(reference.sop_instance_uid))
      return {kInvalidArgumentValue, "Referenced SOP Sequence item " + std::to_string(i + 1) +
                                         " lacks a valid SOP Class or Instance UID"};
    out.references.push_back(std::move(reference));
  }
  return {};
}

std::uint16_t event_type_of(const CommitmentOutcome& outcome) {
  return outcome.failed.empty() ? 1 : 2;
}

std::unique_ptr<DcmDataset> event_information(const CommitmentReport& report,
                                              const std::string& retrieve_aet) {
  auto information = std::make_unique<DcmDataset>();
  information->putAndInsertString(DCM_TransactionUID, report.transaction_uid.c_str());
  // Items are appended to a sequence built here, not looked up by index each time: linear in the
  // number of references.
  if (!report.outcome.committed.empty()) {
    auto sequence = std::make_unique<DcmSequenceOfItems>(DCM_ReferencedSOPSequence);
    for (const CommittedInstance& committed : report.outcome.committed) {
      auto item = std::make_unique<DcmItem>();
      put_reference(*item, committed.reference);
      // Where the committed instance can be retrieved from (PS3.4 Table J.3-2).
      item->putAndInsertString(DCM_RetrieveAETitle, retrieve_aet.c_str());
      sequence->append(item.release());
    }
    information->insert(sequence.release());
  }
  if (!report.outcome.failed.empty()) {
    auto sequence = std::make_unique<DcmSequenceOfItems>(DCM_FailedSOPSequence);
    for (const FailedInstance& failed : report.outcome.failed) {
      auto item = std::make_unique<DcmItem>();
      put_reference(*item, failed.reference);
      item->putAndInsertUint16(DCM_FailureReason, failed.reason);
      sequence->append(item.release());
    }
    information->insert(sequence.release());
  }
  return information;
}

tl::expected<std::uint16_t, OFCondition> send_event_report(
    T_ASC_Association* association, T_ASC_PresentationContextID context, std::uint16_t message_id,
    const CommitmentReport& report, const std::string& retrieve_aet, int timeout_seconds) {
  T_DIMSE_Message request{};
  request.CommandField = DIMSE_N_EVENT_REPORT_RQ;
  T_DIMSE_N_EventReportRQ& rq = request.msg.NEventReportRQ;
  rq.MessageID = message_id;
  OFStandard::strlcpy(rq.AffectedSOPClassUID, UID_StorageCommitmentPushModelSOPClass,
                      sizeof rq.AffectedSOPClassUID);
  OFStandard::strlcpy(rq.AffectedSOPInstanceUID, UID_StorageCommitmentPushModelSOPInstance,
                      sizeof rq.AffectedSOPInstanceUID);
  rq.DataSetType = DIMSE_DATASET_PRESENT;
  rq.EventTypeID = event_type_of(report.outcome);
  const auto information = event_information(report, retrieve_aet);
  OFCondition c = DIMSE_sendMessageUsingMemoryData(association, context, &request, nullptr,
                                                   information.get(), nullptr, nullptr);
  if (c.bad()) return tl::unexpected(c);
  T_ASC_PresentationContextID answered_on = 0;
  T_DIMSE_Message response{};
  DcmDataset* detail = nullptr;
  c = DIMSE_receiveCommand(association, DIMSE_NONBLOCKING, timeout_seconds, &answered_on, &response,
                           &detail);
  delete detail;
  if (c.bad()) return tl::unexpected(c);
  // Only the response may come now (one outstanding operation each way, the default): anything
  // else cannot be handed back to the SCP's loop, so it ends the exchange.
  if (response.CommandField != DIMSE_N_EVENT_REPORT_RSP ||
      response.msg.NEventReportRSP.MessageIDBeingRespondedTo != message_id)
    return tl::unexpected(OFCondition(DIMSE_BADCOMMANDTYPE));
  if (response.msg.NEventReportRSP.DataSetType != DIMSE_DATASET_NULL) {
    DcmDataset* unexpected = nullptr;
    c = DIMSE_receiveDataSetInMemory(association, DIMSE_NONBLOCKING, timeout_seconds, &answered_on,
                                     &unexpected, nullptr, nullptr);
    delete unexpected;
    if (c.bad()) return tl::unexpected(c);
  }
  return response.msg.NEventReportRSP.DimseStatus;
}

}  // namespace pacs::dimse
