// A C-STORE-RQ whose data set goes out as the stored bytes, without being parsed or re-encoded.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmnet/assoc.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pacs::dimse {

struct StoreCommand {
  std::string sop_class_uid;
  std::string sop_instance_uid;
  Uint16 message_id = 0;
  // Set for the sub-operations of a C-MOVE (PS3.7 9.1.1.1): who asked, and in which message.
  std::string move_originator_aet;
  Uint16 move_originator_message_id = 0;
};

// Writes a C-STORE-RQ: the command set (implicit VR little endian, PS3.7 6.3.1), then as data set
// `length` bytes of the file `fd` from `offset`, which must already be encoded in the transfer
// syntax accepted for the context. DCMTK's DIMSE_sendMessage* would parse and re-encode the data
// set, and its DUL writes every PDU as two system calls; here the P-DATA-TF PDUs (PS3.8 9.3.5) are
// laid out in one buffer, the file read straight into place between their headers, so that an
// instance of up to a megabyte costs one read and one write. Larger ones go in megabyte blocks.
//
// In two steps, so that the next instance can be read while the previous one's response is
// awaited: prepare() encodes the command and reads the first block (nothing is sent), write()
// sends it and the rest. The file must stay open until write() returns. A failure in write()
// may leave a partial message on the wire: the caller must then abort the association.
// Whether the peer's PDUs are large enough for this writer (the command set in one PDU); every
// real implementation's are. Otherwise DCMTK encodes the message and splits it.
bool fits_own_framing(T_ASC_Association* association);

class StoreRequestWriter {
 public:
  OFCondition prepare(T_ASC_Association* association, T_ASC_PresentationContextID context,
                      const StoreCommand& command, int fd, off_t offset, std::uint64_t length);
  OFCondition write();

 private:
  // Lays out the PDUs of the next block after what is already in the buffer and reads their data.
  OFCondition fill_block();

  T_ASC_Association* association_ = nullptr;
  T_ASC_PresentationContextID context_ = 0;
  int fd_ = -1;
  off_t offset_ = 0;
  std::uint64_t left_ = 0;
  std::size_t per_pdu_ = 0, used_ = 0;
  bool prepared_ = false;
  std::vector<unsigned char> buffer_;  // kept across instances: no allocation once warm
};

}  // namespace pacs::dimse
