#include "pacsnode/dimse/find_responses.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include "pacsnode/dimse/pdata.h"

namespace pacs::dimse {
namespace {

// Small enough that a C-CANCEL stops the answer soon, large enough to save most system calls.
constexpr std::size_t kResponsesPerWrite = 16;

}  // namespace

FindResponses::FindResponses(T_ASC_Association* association, T_ASC_PresentationContextID context,
                             const T_DIMSE_C_FindRQ& request, Uint16 pending_status)
    : association_(association),
      context_(context),
      request_(request),
      pending_status_(pending_status) {}

OFCondition FindResponses::prepare() {
  T_ASC_PresentationContext pc;
  if (association_ == nullptr ||
      ASC_findAcceptedPresentationContext(association_->params, context_, &pc).bad())
    return DIMSE_NOVALIDPRESENTATIONCONTEXTID;
  syntax_ = DcmXfer(pc.acceptedTransferSyntax).getXfer();
  per_pdu_ = max_pdv_data(association_);
  if (syntax_ == EXS_Unknown || per_pdu_ == 0) return DIMSE_NOVALIDPRESENTATIONCONTEXTID;
  // PS3.7 9.1.2.1 / 9.3.2.2: C-FIND-RSP, the same for every pending response of this request.
  DcmDataset command;
  OFCondition c = command.putAndInsertString(DCM_AffectedSOPClassUID, request_.AffectedSOPClassUID);
  if (c.good()) c = command.putAndInsertUint16(DCM_CommandField, DIMSE_C_FIND_RSP);
  if (c.good()) c = command.putAndInsertUint16(DCM_MessageIDBeingRespondedTo, request_.MessageID);
  if (c.good()) c = command.putAndInsertUint16(DCM_CommandDataSetType, DIMSE_DATASET_PRESENT);
  if (c.good()) c = command.putAndInsertUint16(DCM_Status, pending_status_);
  if (c.good()) c = encode_dataset(command, EXS_LittleEndianImplicit, true, command_);
  return c;
}

OFCondition FindResponses::add(DcmDataset& identifier) {
  just_written_ = false;
  if (command_.empty())
    if (OFCondition c = prepare(); c.bad()) return c;
  identifier_.clear();
  if (OFCondition c = encode_dataset(identifier, syntax_, false, identifier_); c.bad()) return c;
  append_message(out_, command_, identifier_, context_, per_pdu_);
  ++buffered_;
  if (written_ == 0 || buffered_ == kResponsesPerWrite) {
    just_written_ = true;
    return flush();
  }
  return EC_Normal;
}

OFCondition FindResponses::flush() {
  if (out_.empty()) return EC_Normal;
  const OFCondition c = write_to_peer(association_, out_.data(), out_.size());
  written_ += buffered_;
  buffered_ = 0;
  out_.clear();
  return c;
}

}  // namespace pacs::dimse
