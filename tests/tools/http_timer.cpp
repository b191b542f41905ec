// pacsnode-http-timer: times HTTP requests against a DICOMweb server, for the benchmarks.
// Each of C threads keeps one connection alive and sends its share of the requests one after
// another; prints the latency median and p95, the throughput, and what the last answer was.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/tools/parse_number.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string method = "GET";
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int count = 100, warmup = 5, concurrency = 1;
};

void usage(std::FILE* to) {
  std::fputs(
      "usage: pacsnode-http-timer --port N --path PATH [--method GET|POST] [--header 'N: V']...\n"
      "         [--body FILE] [--count N=100] [--warmup N=5] [--concurrency C=1]\n"
      "prints 'median_ms=X p95_ms=Y requests_per_s=R bytes=B status=S' (B, S: the last answer)\n"
      "and fails on any answer outside 2xx.\n",
      to);
}

std::string parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return "missing value for " + arg;
    const std::string value = argv[++i];
    if (arg == "--port") {
      auto v = pacs::tools::parse_number<int>(value, 1, 65535);
      if (!v) return "bad --port";
      o.port = *v;
    } else if (arg == "--host") {
      o.host = value;
    } else if (arg == "--method") {
      o.method = value;
    } else if (arg == "--path") {
      o.path = value;
    } else if (arg == "--header") {
      const auto colon = value.find(':');
      if (colon == std::string::npos) return "--header needs 'Name: value'";
      std::string v = value.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      o.headers.emplace_back(value.substr(0, colon), v);
    } else if (arg == "--body") {
      std::ifstream in(value, std::ios::binary);
      if (!in) return "cannot read --body " + value;
      o.body.assign(std::istreambuf_iterator<char>(in), {});
    } else if (arg == "--count" || arg == "--warmup" || arg == "--concurrency") {
      auto v = pacs::tools::parse_number<int>(value, arg == "--warmup" ? 0 : 1, 1000000);
      if (!v) return "bad " + arg;
      (arg == "--count" ? o.count : arg == "--warmup" ? o.warmup : o.concurrency) = *v;
    } else {
      return "unknown argument " + arg;
    }
  }
  if (o.port == 0 || o.path.empty()) return "--port and --path are required";
  return {};
}

struct Worker {
  std::vector<double> latencies_ms;
  std::size_t bytes = 0;
  unsigned status = 0;
  std::string error;
};

void run(const Options& o, int requests, int warmup, Worker& w) {
  try {
    net::io_context io;
    tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(o.host, std::to_string(o.port));
    beast::tcp_stream stream(io);
    beast::flat_buffer buffer;
    bool connected = false;
    for (int i = 0; i < warmup + requests; ++i) {
      // A server may close after an answer (Connection: close); then the next request reconnects.
      if (!connected) {
        beast::error_code ignored;
        stream.socket().close(ignored);
        stream.connect(endpoints);
        stream.socket().set_option(tcp::no_delay(true));
        buffer.clear();
        connected = true;
      }
      http::request<http::string_body> request{http::string_to_verb(o.method), o.path, 11};
      request.set(http::field::host, o.host + ":" + std::to_string(o.port));
      for (const auto& [name, value] : o.headers) request.set(name, value);
      request.body() = o.body;
      request.prepare_payload();
      const auto start = std::chrono::steady_clock::now();
      http::write(stream, request);
      http::response_parser<http::string_body> parser;
      parser.body_limit(std::uint64_t{16} << 30);
      http::read(stream, buffer, parser);
      const auto ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      connected = parser.get().keep_alive();
      w.status = parser.get().result_int();
      w.bytes = parser.get().body().size();
      if (w.status < 200 || w.status >= 300) {
        w.error = "status " + std::to_string(w.status) + ": " + parser.get().body().substr(0, 300);
        return;
      }
      if (i >= warmup) w.latencies_ms.push_back(ms);
    }
  } catch (const std::exception& e) {
    w.error = e.what();
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help") {
      usage(stdout);
      return 0;
    }
  Options o;
  if (const std::string error = parse_args(argc, argv, o); !error.empty()) {
    std::fprintf(stderr, "pacsnode-http-timer: %s\n", error.c_str());
    usage(stderr);
    return 1;
  }
  std::vector<Worker> workers(static_cast<std::size_t>(o.concurrency));
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < o.concurrency; ++t) {
      const int share = o.count / o.concurrency + (t < o.count % o.concurrency ? 1 : 0);
      threads.emplace_back([&, t, share] { run(o, share, o.warmup, workers[t]); });
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (const Worker& w : workers) {
    if (!w.error.empty()) {
      std::fprintf(stderr, "pacsnode-http-timer: %s %s: %s\n", o.method.c_str(), o.path.c_str(),
                   w.error.c_str());
      return 2;
    }
    all.insert(all.end(), w.latencies_ms.begin(), w.latencies_ms.end());
  }
  std::sort(all.begin(), all.end());
  const double median = all[all.size() / 2];
  const double p95 = all[std::min(all.size() - 1, all.size() * 95 / 100)];
  // Throughput includes the warm-up requests' time only when there were any; count them too.
  const double total = static_cast<double>(all.size() + workers.size() * o.warmup);
  std::printf("median_ms=%.3f p95_ms=%.3f requests_per_s=%.1f bytes=%zu status=%u\n", median, p95,
              total / seconds, workers.back().bytes, workers.back().status);
  return 0;
}
