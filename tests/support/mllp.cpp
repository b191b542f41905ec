#include "tests/support/mllp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace pacs::testing {
namespace {

// MSA-n of an acknowledgement (segments split on CR, fields on '|').
std::string msa_field(const std::string& ack, std::size_t n) {
  const auto at = ack.find("MSA|");
  if (at == std::string::npos) return {};
  const std::string segment = ack.substr(at, ack.find('\r', at) - at);
  std::size_t start = 0;
  for (std::size_t i = 0; i < n; ++i) {
    start = segment.find('|', start);
    if (start == std::string::npos) return {};
    ++start;
  }
  return segment.substr(start, segment.find('|', start) - start);
}

}  // namespace

MllpClient::MllpClient(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw std::runtime_error("cannot connect to MLLP port " + std::to_string(port));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

MllpClient::~MllpClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool MllpClient::send_raw(std::string_view bytes) {
  // Bounded by the bytes: every pass writes some or fails.
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<std::string> MllpClient::read_frame(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Bounded by the deadline.
  for (;;) {
    const auto start = pending_.find('\x0b');
    if (start != std::string::npos) {
      const auto end = pending_.find('\x1c', start);
      if (end != std::string::npos) {
        std::string message = pending_.substr(start + 1, end - start - 1);
        const std::size_t after =
            end + 1 < pending_.size() && pending_[end + 1] == '\r' ? end + 2 : end + 1;
        pending_.erase(0, after);
        return message;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return std::nullopt;
    pending_.append(buffer, static_cast<std::size_t>(n));
  }
}

std::optional<std::string> MllpClient::exchange(std::string_view message,
                                                std::chrono::milliseconds timeout) {
  std::string frame = "\x0b";
  frame.append(message);
  frame += "\x1c\r";
  if (!send_raw(frame)) return std::nullopt;
  return read_frame(timeout);
}

bool MllpClient::closed_by_peer(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Bounded by the deadline.
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return true;
  }
}

std::string hl7_message(std::initializer_list<std::string_view> segments) {
  std::string out;
  for (auto s : segments) {
    out.append(s);
    out += '\r';
  }
  return out;
}

std::string ack_code(const std::string& ack) {
  return msa_field(ack, 1);
}

std::string ack_control_id(const std::string& ack) {
  return msa_field(ack, 2);
}

}  // namespace pacs::testing
