#include "pacsnode/dimse/coalesced_writes.h"

#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/dulstruc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace pacs::dimse {
namespace {

// DcmTransportConnection::getSocket() is protected; a derived class may name it, and the member
// pointer it yields may be applied to any connection. No state is touched, only read.
struct SocketOf : DcmTransportConnection {
  static DcmNativeSocketType of(DcmTransportConnection& connection) {
    return (connection.*&SocketOf::getSocket)();
  }
};

// DCMTK keeps the connection in its association key; dulstruc.h is its installed definition.
int socket_of(T_ASC_Association* association) {
  if (association == nullptr || association->DULassociation == nullptr) return -1;
  auto* key = static_cast<PRIVATE_ASSOCIATIONKEY*>(association->DULassociation);
  if (key->connection == nullptr) return -1;
  return static_cast<int>(SocketOf::of(*key->connection));
}

}  // namespace

CoalescedWrites::CoalescedWrites(T_ASC_Association* association) {
  const int socket = socket_of(association);
  const int on = 1;
  // Failing to cork only costs packets, never correctness: then there is nothing to undo.
  if (socket >= 0 && ::setsockopt(socket, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0)
    socket_ = socket;
}

CoalescedWrites::~CoalescedWrites() {
  if (socket_ < 0) return;
  const int off = 0;
  ::setsockopt(socket_, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
}

}  // namespace pacs::dimse
