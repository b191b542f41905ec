#include "pacsnode/dimse/pdata.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dulstruc.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace pacs::dimse {
namespace {

void put_be32(unsigned char* at, std::uint32_t value) {
  at[0] = static_cast<unsigned char>(value >> 24);
  at[1] = static_cast<unsigned char>(value >> 16);
  at[2] = static_cast<unsigned char>(value >> 8);
  at[3] = static_cast<unsigned char>(value);
}

// A P-DATA-TF PDU's own header: its type and the length of the PDV items that follow.
constexpr std::size_t kPduStartBytes = 6;
void put_pdu_start(unsigned char* at, std::size_t items_length) {
  at[0] = 0x04;  // P-DATA-TF
  at[1] = 0;
  put_be32(at + 2, static_cast<std::uint32_t>(items_length));
}

// A PDV item's header (PS3.8 9.3.5.1): its length (context ID, control header, data), the
// context ID and the message control header.
constexpr std::size_t kPdvHeaderBytes = 6;
void put_pdv_header(unsigned char* at, std::size_t data_length, T_ASC_PresentationContextID context,
                    bool command, bool last) {
  put_be32(at, static_cast<std::uint32_t>(data_length + 2));
  at[4] = context;
  at[5] = static_cast<unsigned char>((command ? 0x01 : 0x00) | (last ? 0x02 : 0x00));
}

static_assert(kPduStartBytes + kPdvHeaderBytes == kPduHeaderBytes);

}  // namespace

void put_pdu_header(unsigned char* at, std::size_t data_length, T_ASC_PresentationContextID context,
                    bool command, bool last) {
  put_pdu_start(at, kPdvHeaderBytes + data_length);
  put_pdv_header(at + kPduStartBytes, data_length, context, command, last);
}

std::size_t max_pdv_data(T_ASC_Association* association) {
  long peer = association->params->theirMaxPDUReceiveSize;
  if (peer < 1 || peer > ASC_MAXIMUMPDUSIZE) peer = ASC_MAXIMUMPDUSIZE;
  peer &= ~1L;
  return peer > static_cast<long>(kPduHeaderBytes)
             ? static_cast<std::size_t>(peer) - kPduHeaderBytes
             : 0;
}

void append_pdvs(std::vector<unsigned char>& out, std::span<const unsigned char> bytes,
                 T_ASC_PresentationContextID context, bool command, std::size_t per_pdu) {
  std::size_t done = 0;
  // Bounded by the size; an empty part still gets its one (empty, last) PDU.
  do {
    const std::size_t chunk = std::min(per_pdu, bytes.size() - done);
    const std::size_t at = out.size();
    out.resize(at + kPduHeaderBytes + chunk);
    put_pdu_header(out.data() + at, chunk, context, command, done + chunk == bytes.size());
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(done), chunk,
                out.begin() + static_cast<std::ptrdiff_t>(at + kPduHeaderBytes));
    done += chunk;
  } while (done < bytes.size());
}

void append_message(std::vector<unsigned char>& out, std::span<const unsigned char> command,
                    std::span<const unsigned char> data_set, T_ASC_PresentationContextID context,
                    std::size_t per_pdu) {
  // The data set's PDV adds a header of its own to the PDU.
  if (command.size() + kPdvHeaderBytes + data_set.size() > per_pdu) {
    append_pdvs(out, command, context, true, per_pdu);
    append_pdvs(out, data_set, context, false, per_pdu);
    return;
  }
  const std::size_t at = out.size();
  out.resize(at + kPduHeaderBytes + command.size() + kPdvHeaderBytes + data_set.size());
  unsigned char* pdu = out.data() + at;
  put_pdu_start(pdu, 2 * kPdvHeaderBytes + command.size() + data_set.size());
  put_pdv_header(pdu + kPduStartBytes, command.size(), context, true, true);
  unsigned char* second = std::copy(command.begin(), command.end(), pdu + kPduHeaderBytes);
  put_pdv_header(second, data_set.size(), context, false, true);
  std::copy(data_set.begin(), data_set.end(), second + kPdvHeaderBytes);
}

OFCondition encode_dataset(DcmDataset& dataset, E_TransferSyntax syntax, bool with_group_length,
                           std::vector<unsigned char>& out) {
  const E_GrpLenEncoding group_length = with_group_length ? EGL_withGL : EGL_withoutGL;
  const Uint32 length = dataset.calcElementLength(syntax, EET_ExplicitLength);
  if (length == DCM_UndefinedLength) return EC_IllegalCall;
  const std::size_t at = out.size();
  // calcElementLength leaves out the group lengths; they are 12 bytes per group at most.
  out.resize(at + length + 12 * 64);
  DcmOutputBufferStream stream(out.data() + at, static_cast<offile_off_t>(out.size() - at));
  dataset.transferInit();
  const OFCondition c =
      dataset.write(stream, syntax, EET_ExplicitLength, nullptr, group_length, EPD_withoutPadding);
  dataset.transferEnd();
  if (c.bad()) {
    out.resize(at);
    return c;
  }
  stream.flush();
  void* data = nullptr;
  offile_off_t written = 0;
  stream.flushBuffer(data, written);
  out.resize(at + static_cast<std::size_t>(written));
  return EC_Normal;
}

OFCondition write_to_peer(T_ASC_Association* association, const unsigned char* data,
                          std::size_t size) {
  auto* key =
      association ? static_cast<PRIVATE_ASSOCIATIONKEY*>(association->DULassociation) : nullptr;
  if (key == nullptr || key->connection == nullptr) return DIMSE_ILLEGALASSOCIATION;
  // Bounded: every pass writes at least one byte or fails.
  while (size > 0) {
    // DcmTransportConnection::write takes a non-const buffer but only reads it.
    const ssize_t n = key->connection->write(const_cast<unsigned char*>(data), size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return DUL_NETWORKCLOSED;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return EC_Normal;
}

}  // namespace pacs::dimse
