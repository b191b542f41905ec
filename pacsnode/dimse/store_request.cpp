#include "pacsnode/dimse/store_request.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dulstruc.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>

namespace pacs::dimse {
namespace {

// A C-STORE-RQ command set is a few hundred bytes (two UIDs of at most 64 and an AE title).
constexpr std::size_t kMaxCommandBytes = 1024;
// PDU type, reserved, PDU length (4), PDV item length (4), context ID, message control header.
constexpr std::size_t kPduHeaderBytes = 12;
// How much of the data set is assembled and written at a time.
constexpr std::size_t kBlockBytes = 1 << 20;

OFCondition encode_command(const StoreCommand& command,
                           std::array<unsigned char, kMaxCommandBytes>& buffer,
                           std::size_t& length) {
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
  DcmOutputBufferStream stream(buffer.data(), static_cast<offile_off_t>(buffer.size()));
  set.transferInit();
  c = set.write(stream, EXS_LittleEndianImplicit, EET_ExplicitLength, nullptr, EGL_withGL,
                EPD_withoutPadding);
  set.transferEnd();
  if (c.bad()) return c;
  stream.flush();
  void* data = nullptr;
  offile_off_t written = 0;
  stream.flushBuffer(data, written);
  length = static_cast<std::size_t>(written);
  return EC_Normal;
}

void put_be32(unsigned char* at, std::uint32_t value) {
  at[0] = static_cast<unsigned char>(value >> 24);
  at[1] = static_cast<unsigned char>(value >> 16);
  at[2] = static_cast<unsigned char>(value >> 8);
  at[3] = static_cast<unsigned char>(value);
}

// One P-DATA-TF PDU holding one PDV of `data_length` bytes (PS3.8 9.3.5 and E.2).
void put_pdu_header(unsigned char* at, std::size_t data_length, T_ASC_PresentationContextID context,
                    bool command, bool last) {
  const auto length = static_cast<std::uint32_t>(data_length);
  at[0] = 0x04;  // P-DATA-TF
  at[1] = 0;
  put_be32(at + 2, length + 6);  // PDV item length field, context ID, control header, data
  put_be32(at + 6, length + 2);  // context ID, control header, data
  at[10] = context;
  at[11] = static_cast<unsigned char>((command ? 0x01 : 0x00) | (last ? 0x02 : 0x00));
}

// The most data one PDU may carry to this peer, as DCMTK computes it (assoc.cc): their maximum
// PDU length (ours if they set none), even, less the headers.
std::size_t data_per_pdu(T_ASC_Association* association) {
  long peer = association->params->theirMaxPDUReceiveSize;
  if (peer < 1 || peer > ASC_MAXIMUMPDUSIZE) peer = ASC_MAXIMUMPDUSIZE;
  peer &= ~1L;
  return peer > static_cast<long>(kPduHeaderBytes)
             ? static_cast<std::size_t>(peer) - kPduHeaderBytes
             : 0;
}

OFCondition write_all(DcmTransportConnection& connection, unsigned char* data, std::size_t size) {
  // Bounded: every pass writes at least one byte or fails.
  while (size > 0) {
    const ssize_t n = connection.write(data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return DUL_NETWORKCLOSED;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return EC_Normal;
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

OFCondition write_store_request(T_ASC_Association* association, T_ASC_PresentationContextID context,
                                const StoreCommand& command, int fd, off_t offset,
                                std::uint64_t length, std::vector<unsigned char>& buffer) {
  auto* key = static_cast<PRIVATE_ASSOCIATIONKEY*>(association->DULassociation);
  const std::size_t per_pdu = data_per_pdu(association);
  if (key == nullptr || key->connection == nullptr) return DIMSE_ILLEGALASSOCIATION;
  if (per_pdu < kMaxCommandBytes) return DUL_ILLEGALPDULENGTH;  // no real peer is that small

  std::array<unsigned char, kMaxCommandBytes> command_bytes;
  std::size_t command_length = 0;
  if (OFCondition c = encode_command(command, command_bytes, command_length); c.bad()) return c;

  const std::size_t pdus_per_block = std::max<std::size_t>(1, kBlockBytes / per_pdu);
  buffer.resize(kPduHeaderBytes + command_length + pdus_per_block * (kPduHeaderBytes + per_pdu));
  // The command PDU leads the first block.
  put_pdu_header(buffer.data(), command_length, context, true, true);
  std::copy_n(command_bytes.begin(), command_length, buffer.begin() + kPduHeaderBytes);
  std::size_t used = kPduHeaderBytes + command_length;
  std::uint64_t left = length;
  std::vector<iovec> iov;
  // Bounded by the length: every block but an empty data set's carries data.
  do {
    iov.clear();
    for (std::size_t p = 0; p < pdus_per_block && (left > 0 || iov.empty()); ++p) {
      const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(left, per_pdu));
      left -= chunk;
      put_pdu_header(buffer.data() + used, chunk, context, false, left == 0);
      used += kPduHeaderBytes;
      if (chunk > 0) iov.push_back({buffer.data() + used, chunk});
      used += chunk;
      if (left == 0) break;
    }
    std::size_t block_data = 0;
    for (const iovec& v : iov) block_data += v.iov_len;
    if (!read_fully(fd, iov, offset)) return DIMSE_SENDFAILED;
    offset += static_cast<off_t>(block_data);
    if (OFCondition c = write_all(*key->connection, buffer.data(), used); c.bad()) return c;
    used = 0;
  } while (left > 0);
  return EC_Normal;
}

}  // namespace pacs::dimse
