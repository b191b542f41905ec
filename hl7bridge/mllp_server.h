// The HL7 face's listener: MLLP over TCP on Boost.Asio. One coroutine per connection reads
// frames, hands each message to the handler on a worker pool (it commits to the index) and writes
// the acknowledgement back on the same connection, one message at a time, in order.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "storage/model/result.h"

namespace pacs::hl7 {

struct MllpOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 2575;
  std::size_t max_message_bytes = 1 << 20;
  // A connection with no complete message for this long is closed (RIS links are long-lived,
  // but a peer that stopped mid-frame must not hold a connection for ever).
  std::chrono::seconds idle_timeout{300};
  unsigned network_threads = 1;
  unsigned worker_threads = 4;  // handlers: parsing, index transactions
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
  // Stops accepting, closes connections, joins the threads.
  void stop();

 private:
  class Connection;

  MllpOptions options_;
  Handler handler_;
  boost::asio::io_context io_;
  boost::asio::thread_pool workers_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::jthread> threads_;
};

}  // namespace pacs::hl7
