// Holds back partial TCP segments while one DIMSE message (or a run of them) is written.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmnet/assoc.h>

namespace pacs::dimse {

// DCMTK writes every PDU as two system calls (a 12-byte header, then the data), and with Nagle
// off (as it must be, see server.cpp) each becomes a packet of its own: a 512 KB C-STORE goes out
// as ~64 packets, half of them 12 bytes. Where DCMTK still encodes a message (a converted
// C-STORE sub-operation; the node frames the others itself, see pdata.h), TCP_CORK holds back
// partial segments for as long as this object lives; the destructor releases them at once.
class CoalescedWrites {
 public:
  explicit CoalescedWrites(T_ASC_Association* association);
  ~CoalescedWrites();
  CoalescedWrites(const CoalescedWrites&) = delete;
  CoalescedWrites& operator=(const CoalescedWrites&) = delete;

 private:
  int socket_ = -1;  // -1 when the association has no plain TCP socket to cork
};

}  // namespace pacs::dimse
