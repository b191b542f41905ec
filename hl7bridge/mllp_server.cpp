#include "hl7bridge/mllp_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

#include "hl7bridge/mllp_framer.h"
#include "storage/model/log.h"

namespace pacs::hl7 {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace net::experimental::awaitable_operators;

namespace {

// Waits for the socket to have data or for the deadline, whichever comes first; false when the
// deadline came.
net::awaitable<bool> readable_before(tcp::socket& socket, std::chrono::seconds timeout) {
  net::steady_timer deadline(co_await net::this_coro::executor, timeout);
  auto winner =
      co_await (socket.async_wait(tcp::socket::wait_read, net::as_tuple(net::use_awaitable)) ||
                deadline.async_wait(net::as_tuple(net::use_awaitable)));
  co_return winner.index() == 0;
}

net::awaitable<void> serve_connection(tcp::socket socket, const MllpOptions& options,
                                      const MllpServer::Handler& handler,
                                      net::thread_pool& workers) {
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  const std::string who =
      ec ? std::string("?") : peer.address().to_string() + ":" + std::to_string(peer.port());
  MllpFramer framer(options.max_message_bytes);
  std::array<char, 64 * 1024> buffer;
  std::vector<std::string> messages;
  // Bounded by the peer: every pass reads something, or the connection ends.
  for (;;) {
    if (!co_await readable_before(socket, options.idle_timeout)) {
      PACS_LOG(Info) << "MLLP " << who << ": idle for " << options.idle_timeout.count()
                     << " s, closing"
                     << (framer.buffered_bytes() ? " (an unfinished message is dropped)" : "");
      break;
    }
    const std::size_t n = socket.read_some(net::buffer(buffer), ec);
    if (ec == net::error::would_block) continue;
    if (ec) {
      if (framer.buffered_bytes())
        PACS_LOG(Warn) << "MLLP " << who << ": connection ended inside a message ("
                       << framer.buffered_bytes() << " bytes dropped, nothing applied)";
      break;
    }
    messages.clear();
    framer.feed(std::string_view(buffer.data(), n), messages);
    for (const std::string& message : messages) {
      const std::string_view view(message);
      auto ack = co_await net::co_spawn(
          workers, [&]() -> net::awaitable<std::optional<std::string>> { co_return handler(view); },
          net::use_awaitable);
      if (!ack) {
        // Not processed for a reason that may pass: no answer, so the sender tries again.
        PACS_LOG(Warn) << "MLLP " << who << ": message not processed, closing without an answer";
        co_return;
      }
      const std::string frame = mllp_frame(*ack);
      co_await net::async_write(socket, net::buffer(frame),
                                net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
    }
    if (framer.state() == MllpFramer::State::Oversize) {
      PACS_LOG(Warn) << "MLLP " << who << ": a message over " << options.max_message_bytes
                     << " bytes; closing without an answer";
      break;
    }
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, const MllpOptions& options,
                                 const MllpServer::Handler& handler, net::thread_pool& workers) {
  // Ends when stop() closes the acceptor.
  while (acceptor.is_open()) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted) break;
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    socket.non_blocking(true, ec);
    net::co_spawn(acceptor.get_executor(),
                  serve_connection(std::move(socket), options, handler, workers), net::detached);
  }
}

}  // namespace

MllpServer::MllpServer(MllpOptions options, Handler handler)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      workers_(std::max(1u, options_.worker_threads)) {}

MllpServer::~MllpServer() {
  stop();
}

Result<void> MllpServer::start() {
  try {
    const tcp::endpoint endpoint{net::ip::make_address(options_.address), options_.port};
    acceptor_ = std::make_unique<tcp::acceptor>(io_, endpoint, /*reuse_address=*/true);
  } catch (const boost::system::system_error& e) {
    return fail(ErrorCode::InvalidArgument, "MLLP on " + options_.address + ":" +
                                                std::to_string(options_.port) + ": " + e.what());
  }
  net::co_spawn(io_, accept_loop(*acceptor_, options_, handler_, workers_), net::detached);
  for (unsigned i = 0; i < std::max(1u, options_.network_threads); ++i)
    threads_.emplace_back([this] { io_.run(); });
  PACS_LOG(Info) << "MLLP: listening on " << options_.address << ":" << options_.port;
  return {};
}

void MllpServer::stop() {
  if (threads_.empty()) return;
  net::post(io_, [this] {
    boost::system::error_code ignored;
    if (acceptor_) acceptor_->close(ignored);
  });
  io_.stop();
  threads_.clear();  // joins
  workers_.stop();
  workers_.join();
}

}  // namespace pacs::hl7
