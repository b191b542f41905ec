#include "security/audit_trail.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "security/tls_session.h"
#include "storage/model/host.h"
#include "storage/model/log.h"

namespace pacs::audit {
namespace {

constexpr std::size_t kMaxQueued = 10000;
// Events gather for this long before a batch is written and synced: a busy node (a query client,
// say) then pays one sync per window instead of one per event. The window bounds what a power
// cut can take from the log beyond what is still queued.
constexpr auto kBatchWindow = std::chrono::milliseconds(20);
constexpr std::size_t kBatchEvents = 256;
std::atomic<Trail*> installed{nullptr};

// RFC 5424's HOSTNAME, "-" when unknown.
std::string syslog_host_name() {
  const std::string name = host_name();
  return name.empty() ? "-" : name;
}

// scheme://HOST:PORT
bool parse_target(const std::string& url, std::string& scheme, std::string& host, int& port) {
  const auto sep = url.find("://");
  const auto colon = url.rfind(':');
  if (sep == std::string::npos || colon == std::string::npos || colon <= sep + 3) return false;
  scheme = url.substr(0, sep);
  host = url.substr(sep + 3, colon - sep - 3);
  auto [end, ec] = std::from_chars(url.data() + colon + 1, url.data() + url.size(), port);
  in_addr address{};
  return ec == std::errc() && end == url.data() + url.size() && port > 0 && port < 65536 &&
         ::inet_pton(AF_INET, host.c_str(), &address) == 1;
}

int connect_to(const std::string& host, int port, int type) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

struct Trail::TlsLink {
  int fd = -1;
  std::unique_ptr<security::TlsSession> session;
  ~TlsLink() {
    session.reset();
    if (fd >= 0) ::close(fd);
  }
};

std::string syslog_line(const std::string& xml, int outcome, const std::string& host) {
  // Facility 10 (security/authorization), severity 5 (notice) or 4 (warning) for a failure.
  const int priority = 10 * 8 + (outcome == 0 ? 5 : 4);
  // The BOM marks the message as UTF-8 (RFC 5424 6.4).
  return "<" + std::to_string(priority) + ">1 " + utc_timestamp(std::chrono::system_clock::now()) +
         " " + host + " pacsnode " + std::to_string(::getpid()) + " IHE+RFC-3881 - \xEF\xBB\xBF" +
         xml;
}

Trail::Trail(TrailSettings settings) : settings_(std::move(settings)) {}

Result<std::unique_ptr<Trail>> Trail::open(TrailSettings settings) {
  std::unique_ptr<Trail> trail(new Trail(std::move(settings)));
  const auto& s = trail->settings_;
  trail->host_name_ = syslog_host_name();
  trail->file_ = ::open(s.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (trail->file_ < 0)
    return fail(ErrorCode::InvalidArgument,
                "audit log " + s.log_file + ": " + std::strerror(errno));
  if (!s.syslog.empty()) {
    std::string scheme;
    if (!parse_target(s.syslog, scheme, trail->host_, trail->port_) ||
        (scheme != "udp" && scheme != "tls"))
      return fail(ErrorCode::InvalidArgument,
                  "audit syslog '" + s.syslog + "': udp://IPV4:PORT or tls://IPV4:PORT");
    if (scheme == "udp") {
      trail->udp_ = connect_to(trail->host_, trail->port_, SOCK_DGRAM);
      if (trail->udp_ < 0)
        return fail(ErrorCode::InvalidArgument, "audit syslog " + s.syslog + ": no socket");
    } else {
      auto context = security::make_client_context(s.tls);
      if (!context) return tl::unexpected(context.error());
      trail->tls_context_ = std::move(*context);
    }
  }
  trail->writer_ = std::thread([t = trail.get()] { t->run(); });
  return trail;
}

Trail::~Trail() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
  tls_link_.reset();
  if (udp_ >= 0) ::close(udp_);
  if (file_ >= 0) ::close(file_);
}

void Trail::record(const Event& event) {
  // The XML is written on the writer's thread: the request that caused the event does not wait
  // for it (its time is taken here).
  Queued queued{event, std::chrono::system_clock::now()};
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      PACS_LOG(Error) << "audit: " << kMaxQueued << " events waiting; one is dropped";
      return;
    }
    queue_.push_back(std::move(queued));
    // The writer waits for a first event, then for a full batch or the window's end: only
    // those two moments need it woken (a notification per event woke it for nothing each time).
    wake = queue_.size() == 1 || queue_.size() == kBatchEvents;
  }
  if (wake) wake_.notify_one();
}

void Trail::run() {
  // Ends when stopping and drained.
  for (;;) {
    std::deque<Queued> batch;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      wake_.wait_for(lock, kBatchWindow,
                     [&] { return stopping_ || queue_.size() >= kBatchEvents; });
      batch.swap(queue_);
    }
    std::vector<std::string> lines;
    lines.reserve(batch.size());
    std::string text;  // one write for the batch
    for (const auto& q : batch) {
      lines.push_back(
          syslog_line(to_xml(q.event, settings_.source_id, q.at), q.event.outcome, host_name_));
      text.append(lines.back()).append("\n");
    }
    write_text(text);
    ::fdatasync(file_);  // the local log is the record: durable before the next batch
    for (const auto& line : lines) send(line);
  }
}

void Trail::write_text(std::string_view text) {
  std::string_view rest(text);
  // Bounded by the bytes: every pass writes some or gives up.
  while (!rest.empty()) {
    const ssize_t n = ::write(file_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      PACS_LOG(Error) << "audit log " << settings_.log_file << ": " << std::strerror(errno);
      return;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

void Trail::send(const std::string& line) {
  if (udp_ >= 0) {
    // One message per datagram (RFC 5426); a lost datagram stays in the local log.
    ::send(udp_, line.data(), line.size(), MSG_NOSIGNAL);
    return;
  }
  if (!tls_context_) return;
  // RFC 5425 octet counting: "LENGTH SP MESSAGE". One reconnect per message at most.
  const std::string frame = std::to_string(line.size()) + " " + line;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!tls_link_) {
      auto link = std::make_unique<TlsLink>();
      link->fd = connect_to(host_, port_, SOCK_STREAM);
      if (link->fd < 0) break;
      auto session = security::TlsSession::handshake(
          tls_context_, link->fd, false, std::chrono::steady_clock::now() + std::chrono::seconds(5),
          host_);
      if (!session) {
        PACS_LOG(Warn) << "audit syslog " << settings_.syslog << ": " << session.error().message;
        break;
      }
      link->session = std::move(*session);
      tls_link_ = std::move(link);
    }
    if (tls_link_->session->write_all(frame,
                                      std::chrono::steady_clock::now() + std::chrono::seconds(5)))
      return;
    tls_link_.reset();
  }
  PACS_LOG(Warn) << "audit syslog " << settings_.syslog
                 << " unreachable; the event is in the local audit log only";
}

void install(Trail* trail) {
  installed = trail;
}

void record(const Event& event) {
  if (Trail* trail = installed.load()) trail->record(event);
}

}  // namespace pacs::audit
