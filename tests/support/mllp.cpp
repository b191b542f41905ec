#include "tests/support/mllp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

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

// Some bytes of a connection, plain or TLS, within the timeout: > 0 read, 0 closed, -1 broken,
// kNothingInTime.
constexpr long kNothingInTime = -2;
long read_some(int fd, security::TlsSession* tls, char* into, std::size_t size,
               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Bounded by the deadline: every pass reads or waits for the socket until it.
  for (;;) {
    if (!(tls && tls->buffered())) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return kNothingInTime;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return kNothingInTime;
    }
    if (!tls) return ::recv(fd, into, size, 0);
    const long got = tls->read(into, size);
    if (got == security::TlsSession::kFailed) return -1;
    if (got != security::TlsSession::kWouldBlock) return got;
  }
}

bool write_all(int fd, security::TlsSession* tls, std::string_view bytes) {
  if (tls)
    return tls->write_all(bytes, std::chrono::steady_clock::now() + std::chrono::seconds(10));
  // Bounded by the bytes: every pass writes some or fails.
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

MllpClient::MllpClient(int port, const security::SslContext& tls) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw std::runtime_error("cannot connect to MLLP port " + std::to_string(port));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (tls) {
    auto session = security::TlsSession::handshake(
        tls, fd_, false, std::chrono::steady_clock::now() + std::chrono::seconds(10), "127.0.0.1");
    if (!session) {
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error(session.error().message);
    }
    tls_ = std::move(*session);
  }
}

MllpClient::~MllpClient() {
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);
}

bool MllpClient::send_raw(std::string_view bytes) {
  return write_all(fd_, tls_.get(), bytes);
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
    char buffer[65536];
    const long n = read_some(fd_, tls_.get(), buffer, sizeof buffer, left);
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
    char buffer[65536];
    const long n = read_some(fd_, tls_.get(), buffer, sizeof buffer, left);
    if (n == 0 || n == -1) return true;
  }
}

MllpListener::MllpListener(int port, security::SslContext tls,
                           std::function<bool(const std::string&)> unanswered,
                           std::chrono::milliseconds hold_unanswered)
    : tls_(std::move(tls)), unanswered_(std::move(unanswered)), hold_unanswered_(hold_unanswered) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd_, 16) != 0)
    throw std::runtime_error("cannot listen on port " + std::to_string(port));
  thread_ = std::thread([this] { run(); });
}

MllpListener::~MllpListener() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

std::vector<std::string> MllpListener::messages() {
  std::lock_guard lock(mu_);
  return messages_;
}

std::optional<std::string> MllpListener::wait_for(const std::string& text,
                                                  std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Bounded by the deadline.
  for (;;) {
    for (const auto& m : messages())
      if (m.find(text) != std::string::npos) return m;
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void MllpListener::run() {
  // Bounded by stop_: one connection at a time, each until its peer closes.
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::unique_ptr<security::TlsSession> tls;
    if (tls_) {
      auto session = security::TlsSession::handshake(
          tls_, fd, true, std::chrono::steady_clock::now() + std::chrono::seconds(10));
      if (!session) {
        ::close(fd);
        continue;
      }
      tls = std::move(*session);
    }
    std::string pending;
    while (!stop_) {
      char buffer[65536];
      const long n =
          read_some(fd, tls.get(), buffer, sizeof buffer, std::chrono::milliseconds(100));
      if (n == kNothingInTime) continue;
      if (n <= 0) break;
      pending.append(buffer, static_cast<std::size_t>(n));
      const auto start = pending.find('\x0b'), end = pending.find('\x1c');
      if (start == std::string::npos || end == std::string::npos || end < start) continue;
      std::string message = pending.substr(start + 1, end - start - 1);
      pending.erase(0, end + 2);
      // MSA-2 echoes MSH-10, the tenth '|'-separated piece of the first segment.
      std::string control_id;
      std::size_t at = 0;
      for (int i = 0; i < 9 && at != std::string::npos; ++i) at = message.find('|', at + 1);
      if (at != std::string::npos)
        control_id = message.substr(at + 1, message.find('|', at + 1) - at - 1);
      {
        std::lock_guard lock(mu_);
        messages_.push_back(message);
      }
      if (unanswered_ && unanswered_(message)) {
        // A receiver that hangs: the connection stays open, unanswered, for a while.
        const auto until = std::chrono::steady_clock::now() + hold_unanswered_;
        while (!stop_ && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        break;
      }
      const std::string ack = "\x0bMSH|^~\\&|TEST|TEST|PACSNODE||20261124093000||ACK|A" +
                              control_id + "|P|2.5.1\rMSA|AA|" + control_id + "\r\x1c\r";
      write_all(fd, tls.get(), ack);
    }
    tls.reset();
    ::close(fd);
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

std::string segment(const std::string& id, const std::map<int, std::string>& fields) {
  std::string out = id;
  int last = fields.empty() ? 0 : fields.rbegin()->first;
  for (int i = 1; i <= last; ++i) {
    out += '|';
    if (auto it = fields.find(i); it != fields.end()) out += it->second;
  }
  return out;
}

std::string orm(const Order& o) {
  std::string msh = "MSH|^~\\&|RIS|HOSP|PACSNODE|RAD|20261124093000||ORM^O01|" + o.control_id +
                    "|P|" + o.version + "||||||8859/1";
  std::vector<std::string> lines = {
      msh,
      segment("PID", {{1, "1"},
                      {3, o.patient_id + "^^^HOSP^MR"},
                      {5, o.patient_name},
                      {7, o.birth_date},
                      {8, "F"}}),
      segment("PV1", {{1, "1"}, {2, "O"}, {8, "1234^Smith^John^^^Dr"}, {19, "V98765"}}),
      segment("ORC", {{1, o.order_control},
                      {2, o.placer + "^EHR"},
                      {3, o.filler + "^RIS"},
                      {5, o.order_status},
                      {7, "^^^" + o.start + "^^R"}}),
      segment("OBR", {{1, "1"},
                      {2, o.placer + "^EHR"},
                      {3, o.filler + "^RIS"},
                      {4, "CTHEAD^CT head^L^CT-HEAD-STD^Head standard^99PROT"},
                      {16, "1234^Smith^John"},
                      {18, o.accession},
                      {19, "RP" + o.accession},
                      {20, "SPS" + o.accession},
                      {24, o.modality},
                      {27, "^^^" + o.start + "^^R"},
                      {44, "CTHEAD^CT head^L"}}),
  };
  if (!o.study_uid.empty()) lines.push_back("ZDS|" + o.study_uid + "^RIS^Application^DICOM");
  std::string out;
  for (const auto& l : lines) out += l + '\r';
  return out;
}

Order numbered_order(const std::string& prefix, int n, const std::string& patient_id) {
  Order o;
  const std::string number = std::to_string(n);
  o.control_id = prefix + number;
  o.placer = prefix + "P" + number;
  o.filler = prefix + "F" + number;
  o.accession = prefix + "A" + number;
  o.patient_id = patient_id;
  return o;
}

}  // namespace pacs::testing
