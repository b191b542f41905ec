// The HL7 face's listener: MLLP over TCP, a thread per connection. A connection carries one
// message at a time (the sender waits for each ACK), and the handler commits to the index before
// answering, so the message is handled on the connection's own thread: handing it to a pool and
// back cost more than a third of each round trip here (measured: ~0.35 ms of ~1.1 ms).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "security/tls.h"
#include "storage/model/result.h"

namespace pacs::hl7 {

struct MllpOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 2575;
  std::size_t max_message_bytes = 1 << 20;
  // A connection with no complete message for this long is closed (RIS links are long-lived,
  // but a peer that stopped mid-frame must not hold a connection for ever).
  std::chrono::seconds idle_timeout{300};
  // Connections served at once; one more is closed at once (and logged).
  unsigned max_connections = 64;
  // Set: every connection is TLS (a plain one fails the handshake and is closed).
  security::SslContext tls;
};

class MllpServer {
 public:
  // The acknowledgement for a message, or nullopt to close the connection without one.
  using Handler = std::function<std::optional<std::string>(std::string_view message)>;
  MllpServer(MllpOptions options, Handler handler);
  ~MllpServer();
  MllpServer(const MllpServer&) = delete;
  MllpServer& operator=(const MllpServer&) = delete;

  // Binds and starts serving; returns at once.
  Result<void> start();
  // Stops accepting, ends every connection (each within a poll interval), joins the threads.
  void stop();

 private:
  void accept_loop();
  void serve(int fd, std::string peer);

  MllpOptions options_;
  Handler handler_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<unsigned> connections_{0};
  std::atomic<std::uint64_t> serial_{0};  // numbers connections for the log
  std::jthread acceptor_;
  struct Connection {
    std::shared_ptr<std::atomic<bool>> done;  // set by the thread as it ends
    std::jthread thread;
  };
  std::mutex mu_;
  std::list<Connection> connection_threads_;  // guarded by mu_
};

}  // namespace pacs::hl7
