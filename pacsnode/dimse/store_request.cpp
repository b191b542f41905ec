#include "pacsnode/dimse/store_request.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmnet/dimse.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "pacsnode/dimse/pdata.h"

namespace pacs::dimse {
namespace {

// A C-STORE-RQ command set is a few hundred bytes (two UIDs of at most 64 and an AE title); a
// peer must take it in one PDU for our framing.
constexpr std::size_t kMaxCommandBytes = 1024;
// How much of the data set is assembled and written at a time.
constexpr std::size_t kBlockBytes = 1 << 20;

OFCondition encode_command(const StoreCommand& command, std::vector<unsigned char>& out) {
  DcmDataset set;
  OFCondition c = set.putAndInsertString(DCM_AffectedSOPClassUID, command.sop_class_uid.c_str());
  if (c.good()) c = set.putAndInsertUint16(DCM_CommandField, DIMSE_C_STORE_RQ);
  if (c.good()) c = set.putAndInsertUint16(DCM_MessageID, command.message_id);
  if (c.good()) c = set.putAndInsertUint16(DCM_Priority, DIMSE_PRIORITY_MEDIUM);
  if (c.good()) c = set.putAndInsertUint16(DCM_CommandDataSetType, DIMSE_DATASET_PRESENT);
  if (c.good())
    c = set.putAndInsertString(DCM_AffectedSOPInstanceUID, command.sop_instance_uid.c_str());
  if (c.good() && !command.move_originator_aet.empty()) {
    c = set.putAndInsertString(DCM_MoveOriginatorApplicationEntityTitle,
                               command.move_originator_aet.c_str());
    if (c.good())
      c = set.putAndInsertUint16(DCM_MoveOriginatorMessageID, command.move_originator_message_id);
  }
  if (c.bad()) return c;
  out.clear();
  return encode_dataset(set, EXS_LittleEndianImplicit, true, out);
}

// Reads exactly the iovecs' total from fd at offset (a regular file: short only at its end).
bool read_fully(int fd, std::vector<iovec>& iov, off_t offset) {
  std::size_t first = 0;
  // Bounded: every pass consumes at least one byte or returns.
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    const ssize_t n = ::preadv(fd, iov.data() + first, count, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    offset += n;
    auto left = static_cast<std::size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<unsigned char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

}  // namespace

bool fits_own_framing(T_ASC_Association* association) {
  return max_pdv_data(association) >= kMaxCommandBytes;
}

OFCondition StoreRequestWriter::prepare(T_ASC_Association* association,
                                        T_ASC_PresentationContextID context,
                                        const StoreCommand& command, int fd, off_t offset,
                                        std::uint64_t length) {
  prepared_ = false;
  if (!fits_own_framing(association)) return DUL_ILLEGALPDULENGTH;
  per_pdu_ = max_pdv_data(association);
  association_ = association;
  context_ = context;
  fd_ = fd;
  offset_ = offset;
  left_ = length;

  std::vector<unsigned char> command_bytes;
  if (OFCondition c = encode_command(command, command_bytes); c.bad()) return c;
  if (command_bytes.size() > per_pdu_) return DUL_ILLEGALPDULENGTH;
  const std::size_t pdus_per_block = std::max<std::size_t>(1, kBlockBytes / per_pdu_);
  const std::size_t capacity =
      kPduHeaderBytes + command_bytes.size() + pdus_per_block * (kPduHeaderBytes + per_pdu_);
  if (buffer_.size() < capacity) buffer_.resize(capacity);
  // The command PDU leads the first block.
  put_pdu_header(buffer_.data(), command_bytes.size(), context, true, true);
  std::copy(command_bytes.begin(), command_bytes.end(), buffer_.begin() + kPduHeaderBytes);
  used_ = kPduHeaderBytes + command_bytes.size();
  if (OFCondition c = fill_block(); c.bad()) return c;
  prepared_ = true;
  return EC_Normal;
}

OFCondition StoreRequestWriter::fill_block() {
  const std::size_t pdus_per_block = std::max<std::size_t>(1, kBlockBytes / per_pdu_);
  std::vector<iovec> iov;
  iov.reserve(pdus_per_block);
  std::size_t block_data = 0;
  // An empty data set still gets its one (empty, last) PDU.
  for (std::size_t p = 0; p < pdus_per_block; ++p) {
    const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(left_, per_pdu_));
    left_ -= chunk;
    put_pdu_header(buffer_.data() + used_, chunk, context_, false, left_ == 0);
    used_ += kPduHeaderBytes;
    if (chunk > 0) iov.push_back({buffer_.data() + used_, chunk});
    used_ += chunk;
    block_data += chunk;
    if (left_ == 0) break;
  }
  if (!read_fully(fd_, iov, offset_)) return DIMSE_SENDFAILED;
  offset_ += static_cast<off_t>(block_data);
  return EC_Normal;
}

OFCondition StoreRequestWriter::write() {
  if (!prepared_) return DIMSE_BADMESSAGE;
  prepared_ = false;
  // Bounded by the length: every block but the last carries a full block of data.
  while (true) {
    if (OFCondition c = write_to_peer(association_, buffer_.data(), used_); c.bad()) return c;
    used_ = 0;
    if (left_ == 0) return EC_Normal;
    if (OFCondition c = fill_block(); c.bad()) return c;
  }
}

}  // namespace pacs::dimse
