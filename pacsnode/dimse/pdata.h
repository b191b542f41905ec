// P-DATA-TF framing (PS3.8 9.3.5) for DIMSE messages the node encodes itself, written to the
// association's connection in as few system calls as possible. DCMTK's DUL writes each PDU as
// two calls (header, then data); for the many small C-FIND responses and the large C-STORE data
// sets of retrieves that dominated the cost (see docs/benchmarks.md).
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/assoc.h>

#include <cstddef>
#include <span>
#include <vector>

class DcmDataset;

namespace pacs::dimse {

// PDU type, reserved, PDU length (4), PDV item length (4), context ID, message control header.
inline constexpr std::size_t kPduHeaderBytes = 12;

// The header of a P-DATA-TF PDU holding one PDV of `data_length` bytes.
void put_pdu_header(unsigned char* at, std::size_t data_length, T_ASC_PresentationContextID context,
                    bool command, bool last);

// The most data one PDU may carry to this peer, as DCMTK computes it (assoc.cc): their maximum
// PDU length (the largest DCMTK supports if they set none), even, less the headers.
std::size_t max_pdv_data(T_ASC_Association* association);

// Appends one message part (command set or data set) to `out` as PDUs of at most `per_pdu` data
// bytes, the last one flagged.
void append_pdvs(std::vector<unsigned char>& out, std::span<const unsigned char> bytes,
                 T_ASC_PresentationContextID context, bool command, std::size_t per_pdu);

// Appends a whole message, its command set and its data set: both as one PDU of two PDVs when they
// fit in one (PS3.8 9.3.5: a P-DATA-TF PDU carries one or more PDVs), which spares the receiver a
// PDU read for each of the many small messages of a C-FIND answer; otherwise as append_pdvs does.
void append_message(std::vector<unsigned char>& out, std::span<const unsigned char> command,
                    std::span<const unsigned char> data_set, T_ASC_PresentationContextID context,
                    std::size_t per_pdu);

// Encodes a command or data set (command sets: implicit VR little endian with group length, PS3.7
// 6.3.1) and appends the bytes to `out`.
OFCondition encode_dataset(DcmDataset& dataset, E_TransferSyntax syntax, bool with_group_length,
                           std::vector<unsigned char>& out);

// Writes all bytes to the association's connection (plain or TLS), retrying partial writes.
OFCondition write_to_peer(T_ASC_Association* association, const unsigned char* data,
                          std::size_t size);

}  // namespace pacs::dimse
