// The HL7 face's sender: one message over MLLP to a peer, waiting for its acknowledgement.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "security/tls.h"
#include "storage/model/result.h"

namespace pacs::hl7 {

struct MllpPeer {
  std::string host;  // an IPv4 address
  int port = 0;
  security::SslContext tls;  // set: over TLS, the peer's certificate checked against host
};

// Connects, sends the framed message and returns the acknowledgement's text. Fails (with a
// reason for the outbox) when the peer cannot be reached, closes, or does not answer in time.
Result<std::string> send_mllp(const MllpPeer& peer, std::string_view message,
                              std::chrono::milliseconds timeout);

}  // namespace pacs::hl7
