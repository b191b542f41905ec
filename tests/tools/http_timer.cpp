// pacsnode-http-timer: times HTTP requests against a DICOMweb server, for the benchmarks.
// Each of C threads keeps one connection alive and sends requests one after another: its share of
// --count requests (then prints the latency median, p95 and p99, the throughput, and what the last
// answer was, and stops at the first failure), or as many as fit in --seconds (then counts
// failures and goes on). --paths cycles each connection over several paths, each with its
// operation label, and prints the figures per label. --discard reads answer bodies into one
// 1 MiB piece and drops them, so that a large retrieve is paced by the server, not by this client
// (keeping a 100 MB study in a growing string copies it more often than the server touches it).

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/tools/parse_number.h"
#include "tests/tools/stats.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Target {
  std::size_t label = 0;  // index into Options::labels
  std::string path;
};

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string method = "GET";
  std::vector<std::string> labels;
  std::vector<Target> targets;  // --path, or the lines of --paths
  bool per_label = false;       // --paths: figures per label
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int count = 100, warmup = 5, concurrency = 1, seconds = 0;
  bool discard = false;
};

void usage(std::FILE* to) {
  std::fputs(
      "usage: pacsnode-http-timer --port N (--path PATH | --paths FILE) [--method GET|POST]\n"
      "         [--header 'N: V']... [--body FILE] [--count N=100 | --seconds S] [--warmup N=5]\n"
      "         [--concurrency C=1] [--discard]\n"
      "--paths FILE: one 'LABEL PATH' per line (# starts a comment); each connection cycles over\n"
      "them, starting at its own line.\n"
      "With --count (and --path), prints 'median_ms=X p95_ms=Y requests_per_s=R bytes=B status=S\n"
      "p99_ms=Z' (B, S: the last answer) and fails at the first answer outside 2xx.\n"
      "With --seconds S, each connection sends requests for S seconds, counting answers outside\n"
      "2xx and broken connections (then reconnecting) as errors; with --seconds or --paths, "
      "prints\n"
      "'op=LABEL count=N errors=E per_s=R p50_ms=X p95_ms=Y p99_ms=Z max_ms=M' per label (LABEL\n"
      "'http' for --path) and exits 2 if any error occurred.\n"
      "--discard: bodies are counted and dropped, not kept (for large retrieves).\n",
      to);
}

std::string read_paths(const std::string& file, Options& o) {
  std::ifstream in(file);
  if (!in) return "cannot read --paths " + file;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string label, path, extra;
    if (!(words >> label) || label.front() == '#') continue;
    if (!(words >> path) || (words >> extra)) return "--paths: want 'LABEL PATH': " + line;
    const auto known = std::find(o.labels.begin(), o.labels.end(), label);
    const auto index = static_cast<std::size_t>(known - o.labels.begin());
    if (known == o.labels.end()) o.labels.push_back(label);
    o.targets.push_back({index, path});
  }
  if (o.targets.empty()) return "--paths " + file + " holds no path";
  o.per_label = true;
  return {};
}

std::string parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--discard") {
      o.discard = true;
      continue;
    }
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
      if (!o.targets.empty()) return "give one --path or one --paths";
      o.labels = {"http"};
      o.targets.push_back({0, value});
    } else if (arg == "--paths") {
      if (!o.targets.empty()) return "give one --path or one --paths";
      if (std::string error = read_paths(value, o); !error.empty()) return error;
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
    } else if (arg == "--count" || arg == "--warmup" || arg == "--concurrency" ||
               arg == "--seconds") {
      auto v = pacs::tools::parse_number<int>(value, arg == "--warmup" ? 0 : 1,
                                              arg == "--seconds" ? 86400 : 1000000);
      if (!v) return "bad " + arg;
      (arg == "--count"     ? o.count
       : arg == "--warmup"  ? o.warmup
       : arg == "--seconds" ? o.seconds
                            : o.concurrency) = *v;
    } else {
      return "unknown argument " + arg;
    }
  }
  if (o.port == 0 || o.targets.empty()) return "--port and --path or --paths are required";
  return {};
}

struct Worker {
  std::vector<std::vector<double>> latencies_ms;  // per label
  std::vector<long> errors;                       // per label
  std::size_t bytes = 0;
  unsigned status = 0;
  std::string error;  // the first
};

struct Answer {
  unsigned status = 0;
  std::size_t bytes = 0;  // of the body
  bool keep_alive = false;
  std::string head;  // the body's first bytes, for a failure's message
};

constexpr std::uint64_t kBodyLimit = std::uint64_t{16} << 30;
constexpr std::size_t kHeadBytes = 300;

// Counts body bytes that went through, keeping the first of them.
void take(Answer& answer, const char* data, std::size_t size) {
  if (answer.head.size() < kHeadBytes)
    answer.head.append(data, std::min(size, kHeadBytes - answer.head.size()));
  answer.bytes += size;
}

Answer read_whole(beast::tcp_stream& stream, beast::flat_buffer& buffer) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  http::read(stream, buffer, parser);
  const auto& response = parser.get();
  return {response.result_int(), response.body().size(), response.keep_alive(),
          response.body().substr(0, kHeadBytes)};
}

// The body goes through one fixed piece of memory; bounded by the body, as every read fills some
// of the piece or ends the message.
Answer read_discarding(beast::tcp_stream& stream, beast::flat_buffer& buffer) {
  static thread_local std::vector<char> piece(std::size_t{1} << 20);
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(kBodyLimit);
  http::read_header(stream, buffer, parser);
  Answer answer;
  answer.status = parser.get().result_int();
  answer.keep_alive = parser.get().keep_alive();
  const auto length = parser.content_length();
  if (!parser.is_done() && (length || !parser.chunked())) {
    // A known length, or a body that ends with the connection (as Orthanc sends its retrieves):
    // what the header read took in, then the socket straight into the piece (one copy, 1 MiB per
    // call). Bounded by the body: every read gets some bytes, or the end, or throws.
    const std::uint64_t limit = length ? *length : kBodyLimit;
    const std::size_t buffered = std::min<std::uint64_t>(buffer.size(), limit);
    take(answer, static_cast<const char*>(buffer.data().data()), buffered);
    buffer.consume(buffered);
    while (answer.bytes < limit) {
      const std::size_t want = std::min<std::uint64_t>(piece.size(), limit - answer.bytes);
      beast::error_code ec;
      const std::size_t got = stream.socket().read_some(net::buffer(piece.data(), want), ec);
      if (ec == net::error::eof && !length) break;
      if (ec) throw beast::system_error(ec);
      take(answer, piece.data(), got);
    }
    return answer;
  }
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = piece.data();
    body.size = piece.size();
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec && ec != http::error::need_buffer) throw beast::system_error(ec);
    take(answer, piece.data(), piece.size() - body.size);
  }
  return answer;
}

// Sends `warmup` untimed requests, then `requests` timed ones, or timed ones until `deadline`
// when the run is time-bounded; the connection `index` starts at target `index`.
void run(const Options& o, int index, int requests, Clock::time_point deadline, Worker& w) {
  const bool timed = o.seconds > 0;
  w.latencies_ms.resize(o.labels.size());
  w.errors.resize(o.labels.size());
  net::io_context io;
  tcp::resolver resolver(io);
  tcp::resolver::results_type endpoints;
  try {
    endpoints = resolver.resolve(o.host, std::to_string(o.port));
  } catch (const std::exception& e) {
    w.error = e.what();
    ++w.errors[0];
    return;
  }
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  // Beast reads what the buffer has room for (up to 64 KiB): room, or a large answer arrives in
  // 512-byte reads.
  buffer.reserve(std::size_t{1} << 20);
  bool connected = false;
  for (int i = 0; timed ? Clock::now() < deadline : i < o.warmup + requests; ++i) {
    const Target& target = o.targets[static_cast<std::size_t>(index + i) % o.targets.size()];
    const auto fail = [&](const std::string& what) {
      ++w.errors[target.label];
      if (w.error.empty()) w.error = o.method + " " + target.path + ": " + what;
    };
    try {
      // A server may close after an answer (Connection: close); then the next request reconnects.
      if (!connected) {
        beast::error_code ignored;
        stream.socket().close(ignored);
        stream.connect(endpoints);
        stream.socket().set_option(tcp::no_delay(true));
        buffer.clear();
        connected = true;
      }
      http::request<http::string_body> request{http::string_to_verb(o.method), target.path, 11};
      request.set(http::field::host, o.host + ":" + std::to_string(o.port));
      for (const auto& [name, value] : o.headers) request.set(name, value);
      request.body() = o.body;
      request.prepare_payload();
      const auto start = Clock::now();
      http::write(stream, request);
      const Answer answer =
          o.discard ? read_discarding(stream, buffer) : read_whole(stream, buffer);
      const auto ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      connected = answer.keep_alive;
      w.status = answer.status;
      w.bytes = answer.bytes;
      if (w.status < 200 || w.status >= 300) {
        fail("status " + std::to_string(w.status) + ": " + answer.head);
        if (!timed) return;
        continue;
      }
      if (i >= o.warmup) w.latencies_ms[target.label].push_back(ms);
    } catch (const std::exception& e) {
      fail(e.what());
      if (!timed) return;
      connected = false;
      // Not a busy loop against a server that refuses connections; still bounded by the deadline.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
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
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(o.seconds);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < o.concurrency; ++t) {
      const int share = o.count / o.concurrency + (t < o.count % o.concurrency ? 1 : 0);
      threads.emplace_back([&, t, share] { run(o, t, share, deadline, workers[t]); });
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  if (o.seconds > 0 || o.per_label) {
    long errors = 0;
    std::string first_error;
    for (std::size_t l = 0; l < o.labels.size(); ++l) {
      std::vector<double> all;
      long label_errors = 0;
      for (const Worker& w : workers) {
        all.insert(all.end(), w.latencies_ms[l].begin(), w.latencies_ms[l].end());
        label_errors += w.errors[l];
      }
      errors += label_errors;
      std::printf("%s\n",
                  pacs::tools::summary_line(o.labels[l], all, label_errors, seconds).c_str());
    }
    for (const Worker& w : workers)
      if (first_error.empty()) first_error = w.error;
    if (errors > 0) {
      std::fprintf(stderr, "pacsnode-http-timer: %ld errors, the first: %s\n", errors,
                   first_error.c_str());
      return 2;
    }
    return 0;
  }

  std::vector<double> all;
  for (const Worker& w : workers) {
    if (!w.error.empty()) {
      std::fprintf(stderr, "pacsnode-http-timer: %s\n", w.error.c_str());
      return 2;
    }
    all.insert(all.end(), w.latencies_ms[0].begin(), w.latencies_ms[0].end());
  }
  std::sort(all.begin(), all.end());
  // Throughput includes the warm-up requests' time only when there were any; count them too.
  const double total = static_cast<double>(all.size() + workers.size() * o.warmup);
  std::printf("median_ms=%.3f p95_ms=%.3f requests_per_s=%.1f bytes=%zu status=%u p99_ms=%.3f\n",
              pacs::tools::median(all), pacs::tools::percentile(all, 95), total / seconds,
              workers.back().bytes, workers.back().status, pacs::tools::percentile(all, 99));
  return 0;
}
