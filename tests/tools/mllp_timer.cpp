// pacsnode-mllp-timer: sends synthetic ORM^O01 new orders over MLLP, each waiting for its ACK, on
// one or several connections side by side, and prints throughput and round-trip latency:
//
//   messages_per_s=X median_ms=Y p95_ms=Z accepted=N p99_ms=P
//
// --count N sends N orders and stops at the first failure. --seconds S sends orders for S seconds
// (at most --count, when given), counts the answers other than AA and the lost connections (then
// reconnects) as errors, goes on, and prints the load benchmark's line instead:
//
//   op=hl7 count=N errors=E per_s=R p50_ms=X p95_ms=Y p99_ms=Z max_ms=M
//
// Orders are numbered from --first on; --prefix keeps the control IDs and order numbers of
// separate runs apart. Each order schedules one step, for one of five modalities in turn (CT, MR,
// US, CR, DX), on one of --days days from 20270101 (28 days a month, at most 336 days).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/mllp.h"
#include "tests/tools/args.h"
#include "tests/tools/parse_number.h"
#include "tests/tools/stats.h"

namespace {

struct Options {
  int port = 0;
  int count = 0;
  int connections = 1;
  int first = 0;
  int days = 30;
  int seconds = 0;
  std::string prefix = "B";
};

void print_usage(std::FILE* to) {
  std::fputs(
      "usage: pacsnode-mllp-timer --port N (--count N | --seconds S [--count N]) [--connections "
      "C=1]\n"
      "         [--first N=0] [--days D=30] [--prefix P=B]\n"
      "Sends N ORM^O01 new orders to 127.0.0.1:PORT over C MLLP connections (each message waits\n"
      "for its ACK) and prints 'messages_per_s=X median_ms=Y p95_ms=Z accepted=N p99_ms=P'.\n"
      "With --seconds, sends for S seconds, counts answers other than AA and lost connections as\n"
      "errors (reconnecting), prints 'op=hl7 count=N errors=E per_s=R p50_ms=X p95_ms=Y\n"
      "p99_ms=Z max_ms=M' and exits 2 if any error occurred.\n",
      to);
}

std::string parse_args(int argc, char** argv, Options& opt) {
  const std::string error = pacs::tools::parse_flags(
      argc, argv, print_usage, [&](std::string_view arg, std::string_view value) -> std::string {
        if (arg == "--prefix") {
          if (value.empty() || value.size() > 4) return "--prefix must be 1..4 characters";
          opt.prefix = value;
          return {};
        }
        int* target = arg == "--port"          ? &opt.port
                      : arg == "--count"       ? &opt.count
                      : arg == "--connections" ? &opt.connections
                      : arg == "--first"       ? &opt.first
                      : arg == "--days"        ? &opt.days
                      : arg == "--seconds"     ? &opt.seconds
                                               : nullptr;
        if (!target) return "unknown argument '" + std::string(arg) + "'";
        const int min = arg == "--first" ? 0 : 1;
        const int max = arg == "--port"          ? 65535
                        : arg == "--connections" ? 64
                        : arg == "--days"        ? 336
                        : arg == "--seconds"     ? 86400
                                                 : 10'000'000;
        const auto n = pacs::tools::parse_number<int>(value, min, max);
        if (!n) return std::string(arg) + " out of range: '" + std::string(value) + "'";
        *target = *n;
        return {};
      });
  if (!error.empty()) return error;
  if (opt.port == 0) return "--port is required";
  if (opt.count == 0 && opt.seconds == 0) return "--count or --seconds is required";
  if (opt.count == 0) opt.count = 10'000'000;  // --seconds alone: the time is the bound
  return {};
}

std::string order_message(const Options& opt, int n) {
  char number[16];
  std::snprintf(number, sizeof number, "%s%08d", opt.prefix.c_str(), n);
  char date[32];
  const int day = (n / 5) % opt.days;  // from 2027-01-01, 28 days a month
  std::snprintf(date, sizeof date, "2027%02d%02d", 1 + day / 28, 1 + day % 28);
  static const char* const kModalities[] = {"CT", "MR", "US", "CR", "DX"};
  const std::string modality = kModalities[n % 5];
  const std::string start = std::string(date) + "0900";
  const std::string id = number;
  return pacs::testing::hl7_message(
      {"MSH|^~\\&|BENCHRIS|HOSP|PACSNODE|RAD|20261124093000||ORM^O01|" + id + "|P|2.3.1",
       "PID|1||PAT" + id + "^^^HOSP^MR||Bench^Patient^" + id + "||19700101|F",
       "PV1|1|O|||||||1234^Smith^John",
       "ORC|NW|PL" + id + "^EHR|FL" + id + "^RIS||SC||^^^" + start + "^^R",
       "OBR|1|PL" + id + "^EHR|FL" + id + "^RIS|CTHEAD^CT head^L||||||||||||1234^Smith^John||" +
           id + "|RP" + id + "|SPS" + id + "||||" + modality + "|||^^^" + start + "^^R"});
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (const std::string error = parse_args(argc, argv, opt); !error.empty()) {
    std::fprintf(stderr, "pacsnode-mllp-timer: %s\n", error.c_str());
    print_usage(stderr);
    return 1;
  }
  using Clock = std::chrono::steady_clock;
  const bool timed = opt.seconds > 0;
  std::mutex mu;
  std::vector<double> latencies;
  int accepted = 0;
  long errors = 0;
  std::string failure;
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::seconds(opt.seconds);
  std::vector<std::thread> senders;
  for (int c = 0; c < opt.connections; ++c) {
    senders.emplace_back([&, c] {
      std::vector<double> mine;
      int ok = 0;
      long failed = 0;
      std::string error;
      const auto fail = [&](std::string what) {
        ++failed;
        if (error.empty()) error = std::move(what);
      };
      std::optional<pacs::testing::MllpClient> client;
      for (int i = c; i < opt.count && (!timed || Clock::now() < deadline); i += opt.connections) {
        try {
          if (!client) client.emplace(opt.port);
        } catch (const std::exception& e) {
          fail(e.what());
          if (!timed) break;
          // Not a busy loop against a node that refuses connections; the deadline bounds it.
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        const std::string message = order_message(opt, opt.first + i);
        const auto sent = Clock::now();
        auto ack = client->exchange(message, std::chrono::seconds(30));
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
        if (!ack) {
          fail("no acknowledgement");
          client.reset();  // the next message goes over a new connection
        } else if (pacs::testing::ack_code(*ack) != "AA") {
          fail("not accepted: " + *ack);
        } else {
          mine.push_back(ms);
          ++ok;
          continue;
        }
        if (!timed) break;
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
      accepted += ok;
      errors += failed;
      if (!error.empty() && failure.empty()) failure = error;
    });
  }
  for (auto& t : senders) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (timed) {
    std::printf("%s\n", pacs::tools::summary_line("hl7", latencies, errors, seconds).c_str());
    if (errors > 0) {
      std::fprintf(stderr, "pacsnode-mllp-timer: %ld errors, the first: %s\n", errors,
                   failure.c_str());
      return 2;
    }
    return 0;
  }
  if (!failure.empty()) {
    std::fprintf(stderr, "pacsnode-mllp-timer: %s\n", failure.c_str());
    return 2;
  }
  std::sort(latencies.begin(), latencies.end());
  std::printf("messages_per_s=%.1f median_ms=%.3f p95_ms=%.3f accepted=%d p99_ms=%.3f\n",
              accepted / seconds, pacs::tools::percentile(latencies, 50),
              pacs::tools::percentile(latencies, 95), accepted,
              pacs::tools::percentile(latencies, 99));
  return 0;
}
