#include "pacsnode/dimse/sender.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmnet/dstorscu.h>

#include <set>

#include "storage/model/log.h"

namespace pacs::dimse {
namespace {

class ProgressStorageScu : public DcmStorageSCU {
 public:
  ProgressStorageScu(SubOperations& counts,
                     const std::function<bool(const SubOperations&)>& progress)
      : counts_(counts), progress_(progress) {}
  bool stopped() const { return stopped_; }
  const std::set<std::string>& processed() const { return processed_; }

 protected:
  void notifySOPInstanceSent(const TransferEntry& entry) override {
    const std::string sop = entry.SOPInstanceUID.c_str();
    processed_.insert(sop);
    --counts_.remaining;
    const Uint16 status = entry.ResponseStatusCode;
    if (entry.RequestSent && status == 0x0000) {
      ++counts_.completed;
    } else if (entry.RequestSent && (status & 0xf000) == 0xb000) {
      ++counts_.warning;
    } else {
      ++counts_.failed;
      counts_.failed_sop_instances.push_back(sop);
      counts_.error = entry.RequestSent ? "refused with status " + std::to_string(status)
                                        : "no presentation context accepted for it";
      PACS_LOG(Warn) << "sub-operation for " << sop << " failed ("
                     << (entry.RequestSent ? "status 0x" : "not sent: no accepted context")
                     << std::hex << (entry.RequestSent ? status : 0) << std::dec << ")";
    }
    if (!progress_(counts_)) stopped_ = true;
  }
  OFBool shouldStopAfterCurrentSOPInstance() override { return stopped_; }

 private:
  SubOperations& counts_;
  const std::function<bool(const SubOperations&)>& progress_;
  bool stopped_ = false;
  std::set<std::string> processed_;
};

}  // namespace

std::uint16_t final_retrieve_status(const SubOperations& counts, bool cancelled) {
  if (cancelled) return STATUS_MOVE_Cancel;  // FE00, the same code for C-GET
  if (counts.failed == 0 && counts.warning == 0) return STATUS_Success;
  if (counts.completed == 0 && counts.warning == 0)
    return STATUS_MOVE_Refused_OutOfResourcesSubOperations;           // A702: nothing could be sent
  return STATUS_MOVE_Warning_SubOperationsCompleteOneOrMoreFailures;  // B000
}

void put_failed_list(const SubOperations& counts, DcmDataset& identifier) {
  std::string list;
  for (const auto& sop : counts.failed_sop_instances) list += (list.empty() ? "" : "\\") + sop;
  identifier.putAndInsertString(DCM_FailedSOPInstanceUIDList, list.c_str());
}

SubOperations send_instances(const SendRequest& request, const std::vector<RetrieveItem>& items,
                             const std::function<bool(const SubOperations&)>& progress) {
  SubOperations counts;
  counts.remaining = static_cast<unsigned>(items.size());
  ProgressStorageScu scu(counts, progress);
  scu.setAETitle(request.own_aet.c_str());
  scu.setPeerAETitle(request.destination_aet.c_str());
  scu.setPeerHostName(request.destination.host.c_str());
  scu.setPeerPort(request.destination.port);
  scu.setMaxReceivePDULength(ASC_MAXIMUMPDUSIZE);
  scu.setACSETimeout(request.timeout_seconds);
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  scu.setDIMSETimeout(request.timeout_seconds);
  scu.setMOVEOriginatorInfo(request.move_originator_aet.c_str(),
                            request.move_originator_message_id);
  scu.setHaltOnUnsuccessfulStoreMode(OFFalse);  // one refused instance must not stop the rest
  scu.setDecompressionMode(DcmStorageSCU::DM_losslessOnly);

  auto fail_unsent = [&](const std::string& why) {
    for (const RetrieveItem& item : items) {
      if (scu.processed().count(item.sop_instance_uid)) continue;
      ++counts.failed;
      --counts.remaining;
      counts.failed_sop_instances.push_back(item.sop_instance_uid);
    }
    counts.error = why;
    PACS_LOG(Warn) << "sending to " << request.destination_aet << " failed: " << why;
  };
  for (const RetrieveItem& item : items)
    if (OFCondition c = scu.addDicomFile(item.file.c_str(), ERM_fileOnly, OFFalse); c.bad()) {
      PACS_LOG(Error) << "stored file of " << item.sop_instance_uid << " unreadable: " << c.text();
    }
  // One association per 128 presentation contexts; bounded by the number of files.
  for (std::size_t association = 0; association <= items.size() && !scu.stopped(); ++association) {
    OFCondition c = scu.addPresentationContexts();
    if (c == NET_EC_NoPresentationContextsDefined) break;
    // DcmSCU sets up its network once it has contexts to propose.
    if (c.good() && association == 0) c = scu.initNetwork();
    if (c.good()) c = scu.negotiateAssociation();
    if (c.bad()) {
      fail_unsent(c.text());
      return counts;
    }
    c = scu.sendSOPInstances();
    scu.releaseAssociation();
    if (c.bad() && !scu.stopped()) {
      fail_unsent(c.text());
      return counts;
    }
  }
  // Files that could not even be read were never queued: they failed too.
  if (!scu.stopped() && counts.remaining > 0) fail_unsent("stored file missing or unreadable");
  return counts;
}

}  // namespace pacs::dimse
