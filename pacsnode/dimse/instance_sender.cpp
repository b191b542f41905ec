#include "pacsnode/dimse/instance_sender.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/dimse.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "pacsnode/dimse/coalesced_writes.h"
#include "pacsnode/dimse/store_request.h"
#include "pacsnode/services/transcode.h"
#include "storage/model/log.h"
#include "storage/part10.h"

namespace pacs::dimse {
namespace {

// Each pass of the response loop consumes one command; a peer sending only C-CANCELs is cut off
// here or by the DIMSE timeout.
constexpr int kMaxCommandsPerResponse = 16;

std::string hex_status(Uint16 status) {
  char text[8];
  std::snprintf(text, sizeof text, "%04X", static_cast<unsigned>(status));
  return text;
}

// The accepted context to send an instance on: the stored syntax first (bytes unchanged), then the
// uncompressed ones, then the lossless compressed ones the codecs can produce (never a lossy one:
// nobody asked for the loss). Exact matches only: DCMTK's ASC_findAcceptedPresentationContextID
// falls back to any uncompressed context when the asked-for syntax was not accepted, which would
// send compressed bytes under an uncompressed label.
T_ASC_PresentationContextID choose_context(T_ASC_Association* association, const RetrieveItem& item,
                                           std::string& syntax) {
  std::vector<std::string> candidates{item.transfer_syntax, UID_LittleEndianExplicitTransferSyntax,
                                      UID_LittleEndianImplicitTransferSyntax,
                                      UID_BigEndianExplicitTransferSyntax};
  const auto& compressed = lossless_compressed_syntaxes();
  candidates.insert(candidates.end(), compressed.begin(), compressed.end());
  const int contexts = ASC_countPresentationContexts(association->params);
  for (const std::string& candidate : candidates) {
    if (candidate != item.transfer_syntax && !can_produce(item.transfer_syntax, candidate))
      continue;
    for (int i = 0; i < contexts; ++i) {
      T_ASC_PresentationContext pc;
      if (ASC_getPresentationContext(association->params, i, &pc).bad()) continue;
      if (pc.resultReason == ASC_P_ACCEPTANCE && item.sop_class_uid == pc.abstractSyntax &&
          candidate == pc.acceptedTransferSyntax) {
        syntax = candidate;
        return pc.presentationContextID;
      }
    }
  }
  return 0;
}

}  // namespace

FileDescriptor::FileDescriptor(const std::filesystem::path& path)
    : fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}

FileDescriptor::~FileDescriptor() {
  if (fd >= 0) ::close(fd);
}

InstanceSender::InstanceSender(T_ASC_Association* association, int timeout_seconds,
                               std::string move_originator_aet, Uint16 move_originator_message_id)
    : association_(association),
      timeout_seconds_(timeout_seconds),
      move_originator_aet_(std::move(move_originator_aet)),
      move_originator_message_id_(move_originator_message_id) {}

InstanceSender::~InstanceSender() = default;

std::unique_ptr<InstanceSender::Prepared> InstanceSender::prepare(const RetrieveItem& item) {
  auto p = std::make_unique<Prepared>();
  p->sop_instance_uid = item.sop_instance_uid;
  auto fail = [&](Uint16 status, const std::string& why) {
    p->failure = SubOperationOutcome{status, why};
    return std::move(p);
  };
  std::string syntax;
  p->context = choose_context(association_, item, syntax);
  if (p->context == 0)
    return fail(
        STATUS_STORE_Refused_SOPClassNotSupported,
        "no accepted presentation context for its SOP class and syntax " + item.transfer_syntax);
  p->message_id = association_->nextMsgID++;

  // The stored bytes as they are, unless the peer's PDUs are too small for our own framing.
  if (sendable_as_stored(item, syntax) && fits_own_framing(association_)) {
    p->file.emplace(item.file);
    const int fd = p->file->fd;
    unsigned char head[kPart10HeadBytes];
    struct stat status {};
    if (fd < 0 || ::fstat(fd, &status) != 0 ||
        ::pread(fd, head, sizeof head, 0) != static_cast<ssize_t>(sizeof head))
      return fail(STATUS_STORE_Error_CannotUnderstand, "stored file cannot be read");
    const auto offset = part10_dataset_offset(head);
    if (!offset || *offset > static_cast<std::uint64_t>(status.st_size))
      return fail(STATUS_STORE_Error_CannotUnderstand, "stored file is not a Part 10 file");
    // Two writers take turns: one holds the instance being sent, the other the one read ahead.
    p->writer = &writers_[next_writer_];
    next_writer_ ^= 1;
    const StoreCommand command{item.sop_class_uid, item.sop_instance_uid, p->message_id,
                               move_originator_aet_, move_originator_message_id_};
    const OFCondition prepared =
        p->writer->prepare(association_, p->context, command, fd, static_cast<off_t>(*offset),
                           static_cast<std::uint64_t>(status.st_size) - *offset);
    if (prepared.bad())
      return fail(STATUS_STORE_Error_CannotUnderstand,
                  std::string("cannot prepare the C-STORE request: ") + prepared.text());
    return p;
  }

  auto converted = load_for_sending(item, syntax);
  if (!converted)
    return fail(STATUS_STORE_Error_CannotUnderstand,
                converted.error().message + " (from " + item.transfer_syntax + ")");
  p->converted = std::move(*converted);
  T_DIMSE_C_StoreRQ& rq = p->converted_request;
  rq = {};
  rq.MessageID = p->message_id;
  OFStandard::strlcpy(rq.AffectedSOPClassUID, item.sop_class_uid.c_str(),
                      sizeof rq.AffectedSOPClassUID);
  OFStandard::strlcpy(rq.AffectedSOPInstanceUID, item.sop_instance_uid.c_str(),
                      sizeof rq.AffectedSOPInstanceUID);
  rq.Priority = DIMSE_PRIORITY_MEDIUM;
  rq.DataSetType = DIMSE_DATASET_PRESENT;
  if (!move_originator_aet_.empty()) {
    OFStandard::strlcpy(rq.MoveOriginatorApplicationEntityTitle, move_originator_aet_.c_str(),
                        sizeof rq.MoveOriginatorApplicationEntityTitle);
    rq.MoveOriginatorID = move_originator_message_id_;
    rq.opts = O_STORE_MOVEORIGINATORAETITLE | O_STORE_MOVEORIGINATORID;
  }
  return p;
}

tl::expected<SubOperationOutcome, OFCondition> InstanceSender::send(const RetrieveItem& item,
                                                                    bool& cancelled,
                                                                    const RetrieveItem* next) {
  if (association_ == nullptr) return tl::unexpected(DIMSE_ILLEGALASSOCIATION);
  std::unique_ptr<Prepared> p = std::move(read_ahead_);
  if (!p || p->sop_instance_uid != item.sop_instance_uid) p = prepare(item);
  if (p->failure) return *p->failure;  // nothing was sent

  OFCondition c;
  if (p->writer != nullptr) {
    c = p->writer->write();
  } else {
    T_DIMSE_Message message{};
    message.CommandField = DIMSE_C_STORE_RQ;
    message.msg.CStoreRQ = p->converted_request;
    CoalescedWrites batch(association_);
    c = DIMSE_sendMessageUsingMemoryData(association_, p->context, &message, nullptr,
                                         p->converted->getDataset(), nullptr, nullptr);
  }
  if (c.bad()) {
    // Part of a message may be on the wire and cannot be taken back: the association is done.
    PACS_LOG(Warn) << "sending " << item.sop_instance_uid << " failed: " << c.text();
    return tl::unexpected(c);
  }
  // The peer is busy storing this one: read the next one meanwhile.
  if (next != nullptr) read_ahead_ = prepare(*next);
  return await_response(p->message_id, cancelled);
}

tl::expected<SubOperationOutcome, OFCondition> InstanceSender::await_response(Uint16 message_id,
                                                                              bool& cancelled) {
  for (int commands = 0; commands < kMaxCommandsPerResponse; ++commands) {
    T_ASC_PresentationContextID from = 0;
    T_DIMSE_Message response{};
    DcmDataset* detail = nullptr;
    const OFCondition c = DIMSE_receiveCommand(association_, DIMSE_NONBLOCKING, timeout_seconds_,
                                               &from, &response, &detail);
    delete detail;
    if (c.bad()) return tl::unexpected(c);
    if (response.CommandField == DIMSE_C_CANCEL_RQ) {
      cancelled = true;
      continue;
    }
    if (response.CommandField != DIMSE_C_STORE_RSP ||
        response.msg.CStoreRSP.MessageIDBeingRespondedTo != message_id)
      return tl::unexpected(DIMSE_BADCOMMANDTYPE);
    const Uint16 status = response.msg.CStoreRSP.DimseStatus;
    const bool fine = status == STATUS_Success || (status & 0xf000) == 0xb000;
    return SubOperationOutcome{status, fine ? "" : "refused with status " + hex_status(status)};
  }
  return tl::unexpected(DIMSE_BADCOMMANDTYPE);
}

}  // namespace pacs::dimse
