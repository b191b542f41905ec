#include "dicomweb/http_server.h"

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>

#include <sys/sendfile.h>

#include <algorithm>

#include "dicomweb/url.h"
#include "storage/model/log.h"

namespace pacs::web {
namespace {

using tcp = net::ip::tcp;

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Exchange::Exchange(Link& link, beast::flat_buffer& buffer,
                   http::request_parser<http::buffer_body>& parser, const HttpOptions& options,
                   net::thread_pool& workers, std::string request_id)
    : link_(link),
      buffer_(buffer),
      parser_(parser),
      options_(options),
      workers_(workers),
      request_id_(std::move(request_id)) {}

std::string Exchange::peer_address() const {
  beast::error_code ec;
  const auto endpoint = link_.tcp().socket().remote_endpoint(ec);
  return ec ? std::string() : endpoint.address().to_string();
}

std::string_view Exchange::header(http::field field) const {
  const auto it = parser_.get().find(field);
  return it == parser_.get().end() ? std::string_view{} : trim_view(it->value());
}

std::string_view Exchange::header(std::string_view name) const {
  const auto it = parser_.get().find(name);
  return it == parser_.get().end() ? std::string_view{} : trim_view(it->value());
}

net::awaitable<std::size_t> Exchange::read_body(std::span<char> into) {
  if (parser_.is_done() || into.empty()) co_return 0;
  if (!continue_sent_ && beast::iequals(header(http::field::expect), "100-continue")) {
    // The client waits for this before it sends the body (RFC 9110 10.1.1).
    continue_sent_ = true;
    http::response<http::empty_body> go_on{http::status::continue_, parser_.get().version()};
    link_.tcp().expires_after(options_.timeout);
    auto write = [&](auto& s) { return http::async_write(s, go_on, net::use_awaitable); };
    co_await link_.apply(write);
  }
  auto& body = parser_.get().body();
  body.data = into.data();
  body.size = into.size();
  link_.tcp().expires_after(options_.timeout);
  beast::error_code ec;
  auto read = [&](auto& s) {
    return http::async_read_some(s, buffer_, parser_, net::redirect_error(net::use_awaitable, ec));
  };
  co_await link_.apply(read);
  // need_buffer only says the buffer we lent is full: that is what we asked for.
  if (ec == http::error::need_buffer) ec = {};
  if (ec == http::error::body_limit)
    respond(http::status::payload_too_large, "text/plain",
            "the request body is larger than this server takes (" +
                std::to_string(options_.max_body_bytes) + " bytes)\n");
  if (ec) throw beast::system_error(ec);
  co_return into.size() - body.size;
}

void Exchange::add_common_headers(http::response_header<>& header, const Headers& extra) {
  header.set(http::field::server, "pacsnode");
  header.set("X-Request-Id", request_id_);
  const std::string_view origin = this->header(http::field::origin);
  if (!origin.empty()) {
    const auto& allowed = options_.cors_origins;
    const bool any = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
    if (any || std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) {
      header.set(http::field::access_control_allow_origin, any ? "*" : std::string(origin));
      header.set(http::field::access_control_expose_headers, "Warning, Content-Location");
      if (!any) header.set(http::field::vary, "Origin");
    }
  }
  for (const auto& [name, value] : extra) header.insert(name, value);
  // A body we did not read to its end cannot be skipped safely: close after answering.
  keep_alive_ = keep_alive_ && parser_.is_done() && parser_.get().keep_alive();
  if (!keep_alive_) header.set(http::field::connection, "close");
}

void Exchange::respond(http::status status, std::string content_type, std::string body,
                       Headers extra) {
  pending_ = Pending{status, std::move(content_type), std::move(body), std::move(extra)};
}

net::awaitable<void> Exchange::send_response() {
  if (!pending_) co_return;
  Pending p = std::move(*pending_);
  pending_.reset();
  http::response<http::string_body> response{p.status, parser_.get().version()};
  if (!p.content_type.empty()) response.set(http::field::content_type, p.content_type);
  add_common_headers(response.base(), p.extra);
  const bool head = parser_.get().method() == http::verb::head;
  bytes_sent_ += p.body.size();
  response.body() = std::move(p.body);
  response.prepare_payload();
  if (head) response.body().clear();
  status_ = static_cast<unsigned>(p.status);
  link_.tcp().expires_after(options_.timeout);
  auto write = [&](auto& s) { return http::async_write(s, response, net::use_awaitable); };
  co_await link_.apply(write);
}

net::awaitable<void> Exchange::begin_stream(const http::status& status,
                                            const std::string& content_type, const Headers& extra,
                                            const std::optional<std::uint64_t>& content_length) {
  http::response<http::empty_body> response{status, parser_.get().version()};
  response.set(http::field::content_type, content_type);
  add_common_headers(response.base(), extra);
  // A known length lets the body go out as it is; otherwise it is framed in chunks.
  chunked_ = !content_length.has_value();
  if (chunked_)
    response.chunked(true);
  else
    response.content_length(*content_length);
  head_only_ = parser_.get().method() == http::verb::head;
  status_ = static_cast<unsigned>(status);
  http::response_serializer<http::empty_body> serializer{response};
  link_.tcp().expires_after(options_.timeout);
  auto write = [&](auto& s) { return http::async_write_header(s, serializer, net::use_awaitable); };
  co_await link_.apply(write);
}

net::awaitable<void> Exchange::stream(std::span<const char> bytes) {
  if (bytes.empty() || head_only_) co_return;
  link_.tcp().expires_after(options_.timeout);
  auto chunk = [&](auto& s) {
    return net::async_write(s, http::make_chunk(net::buffer(bytes.data(), bytes.size())),
                            net::use_awaitable);
  };
  auto raw = [&](auto& s) {
    return net::async_write(s, net::buffer(bytes.data(), bytes.size()), net::use_awaitable);
  };
  if (chunked_)
    co_await link_.apply(chunk);
  else
    co_await link_.apply(raw);
  bytes_sent_ += bytes.size();
}

net::awaitable<bool> Exchange::stream_file(int fd, std::uint64_t length) {
  // TLS encrypts in user space: the file goes through a buffer there (the caller's fallback).
  if (chunked_ || head_only_ || link_.secure()) co_return false;
  auto& socket = link_.tcp().socket();
  socket.native_non_blocking(true);
  off_t offset = 0;
  // Bounded by the length: every pass sends some bytes or waits until the socket takes more;
  // a client that takes nothing for the timeout ends the connection.
  while (static_cast<std::uint64_t>(offset) < length) {
    const ssize_t n = ::sendfile(socket.native_handle(), fd, &offset,
                                 static_cast<std::size_t>(std::min<std::uint64_t>(
                                     length - static_cast<std::uint64_t>(offset), 8u << 20)));
    if (n > 0) {
      bytes_sent_ += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n == 0) throw std::runtime_error("the file ended before its length");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      throw beast::system_error(beast::error_code(errno, beast::system_category()));
    net::steady_timer deadline(co_await net::this_coro::executor, options_.timeout);
    deadline.async_wait([&socket](beast::error_code ec) {
      if (!ec) socket.cancel();
    });
    beast::error_code ec;
    co_await socket.async_wait(tcp::socket::wait_write,
                               net::redirect_error(net::use_awaitable, ec));
    deadline.cancel();
    if (ec) throw beast::system_error(ec);
  }
  co_return true;
}

net::awaitable<void> Exchange::end_stream() {
  if (!chunked_ || head_only_) co_return;
  link_.tcp().expires_after(options_.timeout);
  auto write = [&](auto& s) {
    return net::async_write(s, http::make_chunk_last(), net::use_awaitable);
  };
  co_await link_.apply(write);
}

HttpServer::HttpServer(HttpOptions options, Handler handler)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      io_(static_cast<int>(std::max(1u, options_.network_threads))),
      workers_(std::max(1u, options_.worker_threads)) {
  if (options_.tls) {
    // Asio's context takes ownership of the OpenSSL context it wraps: it gets a reference.
    SSL_CTX_up_ref(options_.tls.get());
    tls_ = std::make_unique<net::ssl::context>(options_.tls.get());
  }
}

HttpServer::~HttpServer() {
  stop();
}

Result<void> HttpServer::start() {
  beast::error_code ec;
  const auto address = net::ip::make_address(options_.address, ec);
  if (ec)
    return fail(ErrorCode::InvalidArgument,
                "HTTP address '" + options_.address + "': " + ec.message());
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  const tcp::endpoint endpoint{address, options_.port};
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return fail(ErrorCode::InvalidArgument,
                "HTTP port " + std::to_string(options_.port) + ": " + ec.message());
  net::co_spawn(io_, accept_loop(), net::detached);
  for (unsigned i = 0; i < std::max(1u, options_.network_threads); ++i)
    threads_.emplace_back([this] { io_.run(); });
  PACS_LOG(Info) << (tls_ ? "HTTPS" : "HTTP") << ": listening on " << options_.address << ":"
                 << options_.port;
  return {};
}

void HttpServer::stop(std::chrono::seconds drain) {
  if (threads_.empty()) return;
  net::post(io_, [this] {
    beast::error_code ignored;
    if (acceptor_) acceptor_->close(ignored);
  });
  // A graceful stop: an upload or a retrieve under way is finished and answered, not cut.
  const auto deadline = std::chrono::steady_clock::now() + drain;
  if (in_flight_ > 0) PACS_LOG(Info) << "HTTP: finishing " << in_flight_ << " requests";
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (in_flight_ > 0)
    PACS_LOG(Warn) << "HTTP: " << in_flight_ << " requests cut off after " << drain.count()
                   << " s of draining";
  io_.stop();
  threads_.clear();  // joins
  workers_.stop();
  workers_.join();
}

net::awaitable<void> HttpServer::accept_loop() {
  // Ends when the acceptor is closed by stop().
  while (acceptor_->is_open()) {
    beast::error_code ec;
    tcp::socket socket =
        co_await acceptor_->async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted) break;
    if (ec) continue;  // a connection that failed before we got it; keep accepting
    socket.set_option(tcp::no_delay(true), ec);
    if (connections_ >= options_.max_connections) {
      net::co_spawn(io_, refuse_busy(std::move(socket)), net::detached);
      continue;
    }
    ++connections_;
    // A strand per connection: work finishing on the pool resumes it in order (blocking_all).
    net::co_spawn(net::make_strand(io_), session(std::move(socket)),
                  [this](std::exception_ptr failure) {
                    --connections_;
                    if (failure) std::rethrow_exception(failure);  // as net::detached would
                  });
  }
}

// Over the connection limit: a short 503 without reading the request, then close.
net::awaitable<void> HttpServer::refuse_busy(tcp::socket socket) {
  static const std::string answer = [] {
    const std::string body = "{\"error\":\"too many connections; try again shortly\"}\n";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
           "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  // Once per ten seconds at most: a flood must not flood the log too.
  static std::atomic<std::int64_t> last_warned{0};
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  if (std::int64_t before = last_warned;
      now - before >= 10 && last_warned.compare_exchange_strong(before, now))
    PACS_LOG(Warn) << "HTTP: " << options_.max_connections
                   << " connections open; new ones are answered 503";
  beast::error_code ec;
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(5));
  co_await net::async_write(stream, net::buffer(answer),
                            net::redirect_error(net::use_awaitable, ec));
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

net::awaitable<void> HttpServer::session(tcp::socket socket) {
  Link link(std::move(socket), tls_.get());
  if (link.secure()) {
    beast::error_code ec;
    link.tcp().expires_after(options_.timeout);
    co_await link.tls()->async_handshake(net::ssl::stream_base::server,
                                         net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      PACS_LOG(Warn) << "HTTPS: TLS handshake failed: " << ec.message();
      co_return;
    }
  }
  beast::flat_buffer buffer;
  // Beast reads at most the buffer's free capacity (up to 64 KB) per receive: a buffer sized for
  // a header alone would read request bodies a couple of kilobytes at a time.
  buffer.reserve(64 * 1024);
  // Bounded by the client: every pass reads one request or ends the connection.
  for (;;) {
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(options_.max_header_bytes);
    parser.body_limit(options_.max_body_bytes);
    link.tcp().expires_after(options_.timeout);
    beast::error_code ec;
    auto read_header = [&](auto& s) {
      return http::async_read_header(s, buffer, parser,
                                     net::redirect_error(net::use_awaitable, ec));
    };
    co_await link.apply(read_header);
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::eof ||
        ec == net::ssl::error::stream_truncated)
      break;
    Exchange exchange(link, buffer, parser, options_, workers_,
                      "http-" + std::to_string(++requests_));
    // Counted until the answer is out, so that stop() can wait for it.
    struct InFlight {
      std::atomic<std::size_t>& count;
      explicit InFlight(std::atomic<std::size_t>& c) : count(c) { ++count; }
      ~InFlight() { --count; }
    } in_flight(in_flight_);
    const auto started = std::chrono::steady_clock::now();
    if (ec) {
      // A request we cannot even read: say why, then close.
      // A declared body over the limit is refused before any of it is read.
      const http::status status = ec == http::error::header_limit
                                      ? http::status::request_header_fields_too_large
                                  : ec == http::error::body_limit ? http::status::payload_too_large
                                                                  : http::status::bad_request;
      exchange.respond(status, "text/plain", "malformed HTTP request: " + ec.message() + "\n");
      try {
        co_await exchange.send_response();
      } catch (const std::exception&) {
      }
      auto note = [&] { PACS_LOG(Warn) << "HTTP: unreadable request: " << ec.message(); };
      Exchange::in_scope(exchange.request_id(), note);
      break;
    }
    std::string failure;
    try {
      // The handler's synchronous part (the access gate) logs with the request's name; what it
      // runs on the worker pool does too (Exchange::blocking).
      auto start = [&] { return handler_(exchange); };
      net::awaitable<void> work = Exchange::in_scope(exchange.request_id(), start);
      co_await std::move(work);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      // Mid-stream failures cannot be answered any more; the connection ends.
      auto note = [&] {
        PACS_LOG(Warn) << "HTTP " << exchange.method() << " " << path_of(exchange.target())
                       << " failed: " << failure;
      };
      Exchange::in_scope(exchange.request_id(), note);
      if (exchange.replied()) break;
    }
    if (!exchange.replied()) {
      // A handler that failed may have set the answer for its failure (413 from read_body).
      if (!exchange.has_response())
        exchange.respond(http::status::internal_server_error, "text/plain",
                         failure.empty() ? "no response\n" : "internal error: " + failure + "\n");
      bool answered = true;
      try {
        co_await exchange.send_response();
      } catch (const std::exception&) {
        answered = false;
      }
      if (!answered) break;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto access_log = [&] {
      PACS_LOG(Info) << "HTTP " << exchange.method() << " " << path_of(exchange.target()) << " "
                     << exchange.status() << " " << exchange.bytes_sent() << " bytes "
                     << seconds * 1000 << " ms";
    };
    Exchange::in_scope(exchange.request_id(), access_log);
    if (options_.on_answered)
      options_.on_answered(exchange.method(), exchange.target(), exchange.status(), seconds);
    if (!exchange.keep_alive()) break;
  }
  beast::error_code ignored;
  link.tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace pacs::web
