// The HTTP face's server: Boost.Beast on one io_context run by a few threads, one coroutine per
// connection (HTTP/1.1 keep-alive, timeouts and size limits on every read), request bodies and
// response bodies streamed, blocking work (index, files, ingest) moved to a bounded worker pool.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "security/tls.h"
#include "storage/model/log.h"
#include "storage/model/result.h"

namespace pacs::web {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct HttpOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned network_threads = 2;
  unsigned worker_threads = 4;  // blocking work: index queries, file reads, ingest
  std::uint32_t max_header_bytes = 16 * 1024;
  std::uint64_t max_body_bytes = std::uint64_t{8} << 30;  // one STOW request
  std::chrono::seconds timeout{60};                       // without progress on a read or write
  // Connections served at once; one more is answered 503 and closed, so idle or slow clients
  // cannot take the memory and sockets of the node.
  std::size_t max_connections = 512;
  // Origins allowed to call from a browser (CORS); "*" allows any. Empty: no CORS headers.
  std::vector<std::string> cors_origins;
  // Set: HTTPS only (a plain request fails the handshake); client certificates as the context
  // asks.
  security::SslContext tls;
  // Told of every answered request (method, target, status, seconds), e.g. for metrics.
  std::function<void(std::string_view, std::string_view, unsigned, double)> on_answered;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// A connection's byte stream: plain TCP, or TLS over it. Reads and writes go through apply(),
// which hands whichever is in use to an operation written once for both.
class Link {
 public:
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  Link(net::ip::tcp::socket socket, net::ssl::context* tls) {
    if (tls)
      tls_.emplace(std::move(socket), *tls);
    else
      plain_.emplace(std::move(socket));
  }
  beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *plain_; }
  TlsStream* tls() { return tls_ ? &*tls_ : nullptr; }
  bool secure() const { return tls_.has_value(); }
  // op(stream) for the stream in use; both give the same awaitable type.
  template <typename Op>
  auto apply(Op& op) {
    return tls_ ? op(*tls_) : op(*plain_);
  }

 private:
  std::optional<beast::tcp_stream> plain_;
  std::optional<TlsStream> tls_;
};

// One request and its response, as a handler sees them.
class Exchange {
 public:
  Exchange(Link& link, beast::flat_buffer& buffer, http::request_parser<http::buffer_body>& parser,
           const HttpOptions& options, net::thread_pool& workers, std::string request_id);
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const http::request_header<>& request() const { return parser_.get(); }
  std::string_view method() const { return parser_.get().method_string(); }
  std::string_view target() const { return parser_.get().target(); }
  std::string_view header(http::field field) const;
  std::string_view header(std::string_view name) const;

  // Reads up to into.size() bytes of the request body; 0 at its end.
  net::awaitable<std::size_t> read_body(std::span<char> into);
  bool body_done() const { return parser_.is_done(); }

  // A whole response, sent when the handler returns. Not a coroutine on purpose: GCC 12
  // mishandles temporaries and by-value class parameters in co_await expressions (it destroys
  // some twice), so handlers set their answer synchronously and the session sends it.
  void respond(http::status status, std::string content_type, std::string body, Headers extra = {});
  bool has_response() const { return pending_.has_value(); }
  net::awaitable<void> send_response();

  // A streamed response: header, then chunks, then the end. Arguments must be named objects
  // that outlive the call (see respond).
  // With a content length the body must be exactly that long; without, it goes out chunked.
  net::awaitable<void> begin_stream(const http::status& status, const std::string& content_type,
                                    const Headers& extra,
                                    const std::optional<std::uint64_t>& content_length);
  // The bytes must stay valid until the write completes: pass a named buffer.
  net::awaitable<void> stream(std::span<const char> bytes);
  net::awaitable<void> end_stream();
  // `length` bytes of an open file from its start, straight from the page cache to the socket
  // (sendfile), in a stream begun with a content length; false when that is not possible here
  // (chunked stream, HEAD), and the caller streams through a buffer instead.
  net::awaitable<bool> stream_file(int fd, std::uint64_t length);

  bool replied() const { return status_ != 0; }
  bool secure() const { return link_.secure(); }  // the request came over TLS
  std::string peer_address() const;
  // Who the access gate let in ("" without authentication), for the audit trail.
  const std::string& caller() const { return caller_; }
  void set_caller(std::string name) { caller_ = std::move(name); }
  unsigned status() const { return status_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  bool keep_alive() const { return keep_alive_; }

  // f() with the log lines it writes naming the request `id` (a plain function: see log::Scope).
  template <typename F>
  static std::invoke_result_t<F&> in_scope(const std::string& id, F& f) {
    log::Scope scope(id);
    return f();
  }

  // "http-N": names the request in the log and in the X-Request-Id answer header.
  const std::string& request_id() const { return request_id_; }

  // Runs f on the worker pool and resumes here with its result; its log lines name the request.
  template <typename F>
  net::awaitable<std::invoke_result_t<F>> blocking(F f) {
    using R = std::invoke_result_t<F>;
    co_return co_await net::co_spawn(
        workers_,
        // Only trivially destructible captures: GCC 12 destroys a coroutine lambda's captured
        // std::string twice (seen in co_spawn's entry point). The exchange outlives the call.
        [f = std::move(f), id = &request_id_]() mutable -> net::awaitable<R> {
          co_return in_scope(*id, f);
        },
        net::use_awaitable);
  }

  // Runs every task on the worker pool at once and resumes here when all are done; results in
  // the tasks' order. The caller must run on a strand (sessions do).
  template <typename F>
  net::awaitable<std::vector<std::invoke_result_t<F>>> blocking_all(std::vector<F> tasks) {
    using R = std::invoke_result_t<F>;
    struct Shared {
      explicit Shared(net::any_io_executor executor, std::size_t n)
          : results(n),
            errors(n),
            remaining(n),
            done(executor, net::steady_timer::time_point::max()) {}
      std::vector<std::optional<R>> results;
      std::vector<std::exception_ptr> errors;
      std::atomic<std::size_t> remaining;
      net::steady_timer done;
    };
    const auto executor = co_await net::this_coro::executor;
    auto shared = std::make_shared<Shared>(executor, tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      net::post(workers_,
                [shared, i, executor, id = request_id_, task = std::move(tasks[i])]() mutable {
                  // An exception must not escape into the pool's thread: it is rethrown to the
                  // caller.
                  try {
                    shared->results[i].emplace(in_scope(id, task));
                  } catch (...) {
                    shared->errors[i] = std::current_exception();
                  }
                  if (--shared->remaining == 0)
                    // On the caller's strand: the expiry moves into the past whether or not the
                    // caller waits yet, so the wait below never misses it.
                    net::post(executor, [shared] {
                      shared->done.expires_at(net::steady_timer::time_point::min());
                    });
                });
    }
    if (!tasks.empty()) {
      beast::error_code ignored;
      // Bounded: the last task's completion moves the expiry into the past.
      while (shared->remaining.load() != 0 ||
             shared->done.expiry() != net::steady_timer::time_point::min())
        co_await shared->done.async_wait(net::redirect_error(net::use_awaitable, ignored));
    }
    for (const auto& error : shared->errors)
      if (error) std::rethrow_exception(error);
    std::vector<R> out;
    out.reserve(tasks.size());
    for (auto& r : shared->results) out.push_back(std::move(*r));
    co_return out;
  }

 private:
  void add_common_headers(http::response_header<>& header, const Headers& extra);

  Link& link_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::buffer_body>& parser_;
  const HttpOptions& options_;
  net::thread_pool& workers_;
  std::string request_id_;
  std::string caller_;
  unsigned status_ = 0;
  std::uint64_t bytes_sent_ = 0;
  bool keep_alive_ = true;
  bool continue_sent_ = false;
  bool chunked_ = true, head_only_ = false;
  struct Pending {
    http::status status;
    std::string content_type, body;
    Headers extra;
  };
  std::optional<Pending> pending_;
};

class HttpServer {
 public:
  using Handler = std::function<net::awaitable<void>(Exchange&)>;
  HttpServer(HttpOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on the network threads; returns at once.
  Result<void> start();
  // Stops accepting, lets the requests being served finish (up to `drain`), then closes every
  // connection and joins the threads.
  void stop(std::chrono::seconds drain = std::chrono::seconds(30));

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> session(net::ip::tcp::socket socket);
  net::awaitable<void> refuse_busy(net::ip::tcp::socket socket);

  HttpOptions options_;
  Handler handler_;
  std::unique_ptr<net::ssl::context> tls_;  // from options_.tls
  net::io_context io_;
  net::thread_pool workers_;
  std::unique_ptr<net::ip::tcp::acceptor> acceptor_;
  std::vector<std::jthread> threads_;
  std::atomic<std::size_t> connections_{0};  // sessions running
  std::atomic<std::size_t> in_flight_{0};    // requests read and not yet answered
  std::atomic<std::uint64_t> requests_{0};   // numbers requests for the log
};

}  // namespace pacs::web
