// One TLS connection over a connected socket that the caller owns (and closes): the handshake
// within a deadline, then reads and writes that never block longer than the caller allows, so a
// serving thread can keep slicing its waits (MLLP) as it does for plain sockets.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "security/tls.h"
#include "storage/model/result.h"

typedef struct ssl_st SSL;

namespace pacs::security {

class TlsSession {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  // Makes the socket non-blocking and runs the handshake as server or client. A client checks
  // the server's certificate names `peer_name` (an IP address or a host name).
  static Result<std::unique_ptr<TlsSession>> handshake(const SslContext& context, int fd,
                                                       bool server, Deadline deadline,
                                                       const std::string& peer_name = {});
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Bytes already decrypted and waiting: poll() on the socket would not see them.
  bool buffered() const;
  static constexpr long kWouldBlock = -2, kFailed = -1;
  // Up to size bytes: > 0 read, 0 the peer closed, kWouldBlock nothing yet, kFailed broken.
  long read(char* into, std::size_t size);
  bool write_all(std::string_view bytes, Deadline deadline);
  // The subject of the peer's verified certificate; empty without one.
  std::string peer_subject() const;

 private:
  TlsSession(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {}
  SSL* ssl_;
  int fd_;
};

}  // namespace pacs::security
