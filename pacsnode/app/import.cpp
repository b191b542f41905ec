#include "pacsnode/app/import.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "pacsnode/app/node.h"
#include "storage/model/log.h"

namespace pacs {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

std::vector<fs::path> collect_files(const std::vector<std::string>& paths,
                                    std::vector<std::string>& problems) {
  std::vector<fs::path> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
      files.emplace_back(p);
    } else if (fs::is_directory(p, ec)) {
      for (auto it = fs::recursive_directory_iterator(
               p, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec)) files.push_back(it->path());
      if (ec) problems.push_back(p + ": " + ec.message());
    } else {
      problems.push_back(p + ": no such file or folder");
    }
  }
  return files;
}

std::string format_duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

// Progress on a terminal: one line redrawn in place; otherwise a plain line every few seconds.
class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), tty_(isatty(STDERR_FILENO) != 0) {}

  void update(std::size_t done, bool final = false) {
    const auto now = Clock::now();
    std::lock_guard lock(mu_);
    const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
    if (!final && since_draw < (tty_ ? 0.2 : 5.0)) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
    const int percent = total_ ? static_cast<int>(100 * done / total_) : 100;
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = percent * kWidth / 100;
      std::fprintf(stderr, "\r[%s%s] %zu/%zu %3d%% %.0f files/s ETA %s ",
                   std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                   done, total_, percent, rate, format_duration(eta).c_str());
      if (final) std::fputc('\n', stderr);
    } else {
      std::fprintf(stderr, "import: %zu/%zu files (%d%%), %.0f files/s, ETA %s\n", done, total_,
                   percent, rate, format_duration(eta).c_str());
    }
    std::fflush(stderr);
  }

 private:
  std::size_t total_;
  bool tty_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  std::mutex mu_;
};

}  // namespace

int import_paths(const Config& config, const std::vector<std::string>& paths) {
  if (paths.empty()) {
    PACS_LOG(Error) << "import: name at least one file or folder";
    return 2;
  }
  auto node = open_node(config);
  if (!node) {
    PACS_LOG(Error) << node.error().message;
    return 1;
  }
  std::vector<std::string> problems;
  const std::vector<fs::path> files = collect_files(paths, problems);
  for (const auto& p : problems) PACS_LOG(Warn) << "import: " << p;

  std::mutex mu;
  std::map<IngestOutcome, std::size_t> outcomes;             // guarded by mu
  std::map<std::string, std::vector<std::string>> rejected;  // reason -> files, guarded by mu
  std::atomic<std::size_t> next{0}, done{0};
  Progress progress(files.size());
  const auto start = Clock::now();

  // Two workers keep the disk busy while the other parses; the group committer merges their
  // index writes.
  auto work = [&] {
    for (std::size_t i = next++; i < files.size(); i = next++) {
      auto stored = node->ingest->ingest_copy(files[i]);
      {
        std::lock_guard lock(mu);
        if (stored)
          ++outcomes[stored->outcome];
        else
          rejected[stored.error().message].push_back(files[i].string());
      }
      progress.update(++done);
    }
  };
  { std::jthread a(work), b(work); }
  progress.update(done, true);

  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::size_t rejected_count = 0;
  for (const auto& [reason, list] : rejected) rejected_count += list.size();
  std::printf(
      "import: %zu files in %.1f s: %zu stored, %zu replaced, %zu identical re-sends, "
      "%zu duplicates kept as they were, %zu rejected\n",
      files.size(), seconds, outcomes[IngestOutcome::Stored], outcomes[IngestOutcome::Replaced],
      outcomes[IngestOutcome::IdenticalResend], outcomes[IngestOutcome::KeptExisting],
      rejected_count);
  for (const auto& [reason, list] : rejected) {
    std::printf("  rejected %zu: %s\n", list.size(), reason.c_str());
    for (std::size_t i = 0; i < list.size() && i < 5; ++i) std::printf("    %s\n", list[i].c_str());
    if (list.size() > 5) std::printf("    ... and %zu more\n", list.size() - 5);
  }
  return problems.empty() ? 0 : 1;
}

}  // namespace pacs
