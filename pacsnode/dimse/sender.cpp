#include "pacsnode/dimse/sender.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>

#include <map>
#include <utility>

#include "pacsnode/dimse/instance_sender.h"
#include "pacsnode/dimse/outbound_association.h"
#include "pacsnode/services/transcode.h"
#include "storage/model/log.h"

namespace pacs::dimse {
namespace {

// Presentation context IDs are odd numbers from 1 to 255 (PS3.8 9.3.2.2).
constexpr std::size_t kMaxContextsPerAssociation = 128;

// Per (SOP class, stored syntax): one context with the stored syntax alone, so an acceptor that
// supports it cannot pick another one and the bytes go out unchanged; one with the uncompressed
// fallbacks; and one with the lossless compressed syntaxes the codecs produce, for receivers that
// take only those (choose_context prefers the earlier contexts when several are accepted). A
// stored syntax DCMTK does not know (HTJ2K) is not proposed: its DIMSE layer refuses every message
// on such a context, the response to our C-STORE included.
std::vector<ProposedContext> contexts_for(const std::string& sop_class, const std::string& stored) {
  std::vector<ProposedContext> out;
  if (DcmXfer(stored.c_str()).getXfer() != EXS_Unknown)
    out.push_back({sop_class, {stored}, ASC_SC_ROLE_DEFAULT});
  for (const std::vector<std::string>& group :
       {std::vector<std::string>{UID_LittleEndianExplicitTransferSyntax,
                                 UID_LittleEndianImplicitTransferSyntax},
        lossless_compressed_syntaxes()}) {
    std::vector<std::string> fallbacks;
    for (const std::string& syntax : group)
      if (syntax != stored && can_produce(stored, syntax)) fallbacks.push_back(syntax);
    if (!fallbacks.empty()) out.push_back({sop_class, std::move(fallbacks), ASC_SC_ROLE_DEFAULT});
  }
  return out;
}

// The items in batches whose contexts fit one association each, in the items' order within a
// (SOP class, syntax) group.
std::vector<std::pair<std::vector<ProposedContext>, std::vector<const RetrieveItem*>>> plan(
    const std::vector<RetrieveItem>& items) {
  std::vector<std::pair<std::vector<ProposedContext>, std::vector<const RetrieveItem*>>> batches;
  std::map<std::pair<std::string, std::string>, std::size_t> batch_of;
  for (const RetrieveItem& item : items) {
    const auto key = std::make_pair(item.sop_class_uid, item.transfer_syntax);
    auto known = batch_of.find(key);
    if (known == batch_of.end()) {
      auto contexts = contexts_for(item.sop_class_uid, item.transfer_syntax);
      if (batches.empty() ||
          batches.back().first.size() + contexts.size() > kMaxContextsPerAssociation)
        batches.emplace_back();
      auto& proposed = batches.back().first;
      proposed.insert(proposed.end(), contexts.begin(), contexts.end());
      known = batch_of.emplace(key, batches.size() - 1).first;
    }
    batches[known->second].second.push_back(&item);
  }
  return batches;
}

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

void SubOperations::count(const std::string& sop_instance, std::uint16_t status,
                          const std::string& failure) {
  if (remaining > 0) --remaining;
  if (status == STATUS_Success) {
    ++completed;
  } else if ((status & 0xf000) == 0xb000) {
    ++warning;
  } else {
    ++failed;
    failed_sop_instances.push_back(sop_instance);
    error = failure;
    PACS_LOG(Warn) << "sub-operation for " << sop_instance << " failed: " << failure;
  }
}

SubOperations send_instances(const SendRequest& request, const std::vector<RetrieveItem>& items,
                             const std::function<bool(const SubOperations&)>& progress) {
  SubOperations counts;
  counts.remaining = static_cast<unsigned>(items.size());
  auto batches = plan(items);
  // Bounded by the number of batches, each by its items.
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const auto& [contexts, batch] = batches[b];
    OutboundAssociation association;
    std::string why = association.open(
        {request.own_aet, request.destination_aet, request.destination, request.timeout_seconds},
        contexts);
    std::size_t sent = 0;
    if (why.empty()) {
      InstanceSender sender(association.get(), static_cast<int>(request.timeout_seconds),
                            request.move_originator_aet, request.move_originator_message_id);
      bool cancelled_by_destination = false;  // a storage SCP has no business cancelling; ignored
      for (; sent < batch.size(); ++sent) {
        const RetrieveItem& item = *batch[sent];
        const RetrieveItem* next = sent + 1 < batch.size() ? batch[sent + 1] : nullptr;
        auto outcome = sender.send(item, cancelled_by_destination, next);
        if (!outcome) {
          association.mark_broken();
          why = std::string("association to ") + request.destination_aet +
                " broke: " + outcome.error().text();
          break;
        }
        counts.count(item.sop_instance_uid, outcome->status, outcome->failure);
        if (!progress(counts)) return counts;  // cancelled: what is left stays remaining
      }
    }
    if (why.empty()) continue;
    // This batch's unsent items, and every later batch's, failed for the same reason.
    PACS_LOG(Warn) << "sending to " << request.destination_aet << " failed: " << why;
    for (std::size_t rest = b; rest < batches.size(); ++rest)
      for (std::size_t i = rest == b ? sent : 0; i < batches[rest].second.size(); ++i) {
        --counts.remaining;
        ++counts.failed;
        counts.failed_sop_instances.push_back(batches[rest].second[i]->sop_instance_uid);
      }
    counts.error = why;
    return counts;
  }
  return counts;
}

}  // namespace pacs::dimse
