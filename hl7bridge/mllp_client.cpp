#include "hl7bridge/mllp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "hl7bridge/mllp_framer.h"
#include "security/tls_session.h"

namespace pacs::hl7 {
namespace {

class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits for the events until the deadline; false when it passed.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
}

}  // namespace

Result<std::string> send_mllp(const MllpPeer& peer, std::string_view message,
                              std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string where = peer.host + ":" + std::to_string(peer.port);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(peer.port));
  if (::inet_pton(AF_INET, peer.host.c_str(), &address.sin_addr) != 1)
    return fail(ErrorCode::InvalidArgument, "'" + peer.host + "' is not an IPv4 address");
  Socket socket;
  if (socket.fd() < 0) return fail(ErrorCode::StorageFailure, std::strerror(errno));
  const int one = 1;
  ::setsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
      errno != EINPROGRESS)
    return fail(ErrorCode::Conflict, "cannot connect to " + where + ": " + std::strerror(errno));
  if (!wait_for(socket.fd(), POLLOUT, deadline))
    return fail(ErrorCode::Conflict, "no connection to " + where + " in time");
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0)
    return fail(ErrorCode::Conflict, "cannot connect to " + where + ": " + std::strerror(error));

  std::unique_ptr<security::TlsSession> tls;
  if (peer.tls) {
    auto session =
        security::TlsSession::handshake(peer.tls, socket.fd(), false, deadline, peer.host);
    if (!session) return fail(ErrorCode::Conflict, where + ": " + session.error().message);
    tls = std::move(*session);
  }
  const std::string frame = mllp_frame(message);
  if (tls && !tls->write_all(frame, deadline))
    return fail(ErrorCode::Conflict, "sending to " + where + " over TLS failed");
  std::string_view rest(tls ? std::string_view() : std::string_view(frame));
  // Bounded by the frame and the deadline.
  while (!rest.empty()) {
    const ssize_t n = ::send(socket.fd(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n > 0) {
      rest.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR) && wait_for(socket.fd(), POLLOUT, deadline))
      continue;
    return fail(ErrorCode::Conflict, "sending to " + where + " failed");
  }
  MllpFramer framer(1 << 20);
  std::vector<std::string> answers;
  std::array<char, 16 * 1024> buffer;
  // Bounded by the deadline: every pass reads something or waits until it.
  while (answers.empty()) {
    if (!(tls && tls->buffered()) && !wait_for(socket.fd(), POLLIN, deadline))
      return fail(ErrorCode::Conflict, "no acknowledgement from " + where + " in time");
    ssize_t n = 0;
    if (tls) {
      const long got = tls->read(buffer.data(), buffer.size());
      if (got == security::TlsSession::kWouldBlock) continue;
      n = got;
    } else {
      n = ::recv(socket.fd(), buffer.data(), buffer.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    }
    if (n <= 0)
      return fail(ErrorCode::Conflict, where + " closed the connection without acknowledging");
    framer.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)), answers);
    if (framer.state() == MllpFramer::State::Oversize)
      return fail(ErrorCode::Malformed, "the acknowledgement from " + where + " is too large");
  }
  return answers.front();
}

}  // namespace pacs::hl7
