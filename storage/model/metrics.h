// The node's metrics, exposed on /metrics in the Prometheus text format (0.0.4): counters,
// gauges and histograms by name and labels, in one process-wide registry (like the log), so that
// every module can count what it does without being handed the registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pacs::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void add(double amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Cumulative counts per bound (the last: +Inf), the count and the sum, read together.
  void read(std::vector<std::uint64_t>& cumulative, double& sum) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, +Inf last
  std::atomic<double> sum_{0};
};

// Seconds from 1 ms to 60 s: request latencies.
const std::vector<double>& latency_buckets();

class Registry {
 public:
  // The metric of that name and labels, made on first use; references stay valid for the
  // registry's life, so hot paths look a metric up once. A name keeps the type and help it was
  // first made with.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const Labels& labels = {},
                       const std::vector<double>& upper_bounds = latency_buckets());
  // Runs before every exposition: for values read when scraped (queue depths, free space).
  void on_scrape(std::function<void(Registry&)> refresh);
  std::string exposition();

 private:
  enum class Type { Counter, Gauge, Histogram };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // by rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family& family(std::string_view name, Type type, std::string_view help);

  std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::function<void(Registry&)>> refreshers_;
};

Registry& registry();
// {a="x",b="y"} with the values escaped as the text format requires; empty for no labels.
std::string render_labels(const Labels& labels);

}  // namespace pacs::metrics
