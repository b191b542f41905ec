#include "hl7bridge/mllp_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "hl7bridge/mllp_framer.h"
#include "security/tls_session.h"
#include "storage/model/log.h"

namespace pacs::hl7 {
namespace {

// Blocking waits are cut into slices this long, so stop() is noticed.
constexpr int kPollSliceMs = 200;
// A TLS handshake, or the write of one answer, takes at most this long.
constexpr auto kHandshakeTime = std::chrono::seconds(10);

bool send_all(int fd, std::string_view bytes) {
  // Bounded by the bytes: every pass sends some or fails.
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

MllpServer::MllpServer(MllpOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

MllpServer::~MllpServer() {
  stop();
}

Result<void> MllpServer::start() {
  const std::string where = options_.address + ":" + std::to_string(options_.port);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options_.port);
  if (::inet_pton(AF_INET, options_.address.c_str(), &address.sin_addr) != 1)
    return fail(ErrorCode::InvalidArgument, "MLLP address '" + options_.address + "' is not IPv4");
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (listen_fd_ < 0 || ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, SOMAXCONN) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    return fail(ErrorCode::InvalidArgument, "MLLP on " + where + ": " + why);
  }
  acceptor_ = std::jthread([this] { accept_loop(); });
  PACS_LOG(Info) << "MLLP: listening on " << where;
  return {};
}

void MllpServer::stop() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  std::list<Connection> connections;
  {
    std::lock_guard lock(mu_);
    connections.swap(connection_threads_);
  }
  connections.clear();  // joins: each connection notices stopping_ within a poll slice
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void MllpServer::accept_loop() {
  // Ends with stop().
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollSliceMs) <= 0) continue;
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    if (fd < 0) continue;
    char host[INET_ADDRSTRLEN] = "?";
    ::inet_ntop(AF_INET, &peer.sin_addr, host, sizeof host);
    std::string who = std::string(host) + ":" + std::to_string(ntohs(peer.sin_port));
    if (connections_ >= options_.max_connections) {
      PACS_LOG(Warn) << "MLLP " << who << ": " << options_.max_connections
                     << " connections already; closing this one";
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++connections_;
    std::lock_guard lock(mu_);
    // Threads of connections that ended are joined here (at once: they are done), as new ones
    // come, so the list holds the live connections and a few just ended.
    connection_threads_.remove_if([](const Connection& c) { return c.done->load(); });
    auto done = std::make_shared<std::atomic<bool>>(false);
    connection_threads_.push_back({done, std::jthread([this, fd, done, who = std::move(who)] {
                                     log::Scope scope("mllp-" + std::to_string(++serial_));
                                     serve(fd, who);
                                     ::close(fd);
                                     --connections_;
                                     *done = true;
                                   })});
  }
}

void MllpServer::serve(int fd, std::string who) {
  std::unique_ptr<security::TlsSession> tls;
  if (options_.tls) {
    auto session = security::TlsSession::handshake(
        options_.tls, fd, true, std::chrono::steady_clock::now() + kHandshakeTime);
    if (!session) {
      PACS_LOG(Warn) << "MLLP " << who << ": " << session.error().message << "; closing";
      return;
    }
    tls = std::move(*session);
    const auto subject = tls->peer_subject();
    PACS_LOG(Info) << "MLLP " << who << ": TLS"
                   << (subject.empty() ? "" : " with client certificate " + subject);
  }
  // The connection's bytes, through TLS or straight from the socket.
  auto receive = [&](char* into, std::size_t size) -> ssize_t {
    if (!tls) return ::recv(fd, into, size, 0);
    const long n = tls->read(into, size);
    if (n < 0) {
      errno = n == security::TlsSession::kWouldBlock ? EAGAIN : ECONNRESET;
      return -1;
    }
    return n;
  };
  auto send = [&](std::string_view bytes) {
    return tls ? tls->write_all(bytes, std::chrono::steady_clock::now() + kHandshakeTime)
               : send_all(fd, bytes);
  };
  MllpFramer framer(options_.max_message_bytes);
  std::array<char, 64 * 1024> buffer;
  std::vector<std::string> messages;
  auto idle_since = std::chrono::steady_clock::now();
  // Bounded by the peer and the idle timeout: every pass reads, or waits one slice. Idle means no
  // complete message, whatever else arrives: a peer dripping noise or an endless message must
  // not hold a connection (one of a limited number) for ever.
  while (!stopping_) {
    if (std::chrono::steady_clock::now() - idle_since >= options_.idle_timeout) {
      PACS_LOG(Info) << "MLLP " << who << ": no message for " << options_.idle_timeout.count()
                     << " s, closing"
                     << (framer.buffered_bytes() ? " (an unfinished message is dropped)" : "");
      return;
    }
    // TLS may hold decrypted bytes the socket no longer shows.
    const int ready = tls && tls->buffered() ? 1 : [&] {
      pollfd p{fd, POLLIN, 0};
      return ::poll(&p, 1, kPollSliceMs);
    }();
    if (ready == 0) continue;
    const ssize_t n = ready < 0 ? -1 : receive(buffer.data(), buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      if (framer.buffered_bytes())
        PACS_LOG(Warn) << "MLLP " << who << ": connection ended inside a message ("
                       << framer.buffered_bytes() << " bytes dropped, nothing applied)";
      return;
    }
    messages.clear();
    framer.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)), messages);
    for (const std::string& message : messages) {
      idle_since = std::chrono::steady_clock::now();
      auto ack = handler_(message);
      if (!ack) {
        // Not processed for a reason that may pass: no answer, so the sender tries again.
        PACS_LOG(Warn) << "MLLP " << who << ": message not processed, closing without an answer";
        return;
      }
      if (!send(mllp_frame(*ack))) return;
    }
    if (framer.state() == MllpFramer::State::Oversize) {
      PACS_LOG(Warn) << "MLLP " << who << ": a message over " << options_.max_message_bytes
                     << " bytes; closing without an answer";
      return;
    }
  }
}

}  // namespace pacs::hl7
