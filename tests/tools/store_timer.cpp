// pacsnode-store-timer: sends C-STOREs over A associations side by side (one thread each), each
// one store after another, and times each round trip (request sent .. response received,
// including DCMTK's encoding of the data set), for the load benchmark. The files of a directory
// are read once into memory and split into A consecutive runs, one per association (so each has
// its own patients and studies when the corpus has at least A patients), and each association
// sends its run in turn, over and over, for --seconds S or its share of --count N stores. With
// --uid-prefix P, store n (from 1) of association a (from 1) carries the SOP Instance UID P.a.n,
// so every store is a new instance (its patient, study and series those of its file). Prints
//
//   op=store count=N errors=E per_s=R p50_ms=X p95_ms=Y p99_ms=Z max_ms=M
//
// over all associations, where N counts the stores answered with status 0000; any other status,
// a refused association and a lost one (then a new one is negotiated) are errors, and the run
// goes on. Exits 2 if any error occurred.
// DCMTK reads TCP_NODELAY=1 from the environment to disable Nagle on the socket.

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/scu.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/tools/args.h"
#include "tests/tools/one_line.h"
#include "tests/tools/parse_number.h"
#include "tests/tools/scu.h"
#include "tests/tools/stats.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kExitBadArgs = 1;
constexpr int kExitErrors = 2;
constexpr std::size_t kMaxFiles = 10000;
constexpr long kMaxStores = 10'000'000;  // per association: 8 digits of UID suffix

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string calling_aet = "STORETIMER";
  std::string called_aet;
  std::string dir;
  std::string uid_prefix;
  int count = 0;
  int seconds = 0;
  int associations = 1;
  int timeout_seconds = 30;
};

void print_usage(std::FILE* to) {
  std::fputs(
      "usage: pacsnode-store-timer --port N --aec CALLED --dir DIR (--seconds S | --count N)\n"
      "         [--associations A=1] [--uid-prefix P] [--host HOST=127.0.0.1]\n"
      "         [--aet CALLING=STORETIMER] [--timeout S=30]\n"
      "Sends the uncompressed DICOM files below DIR (read once, at most 10000), split into A\n"
      "runs, each in turn over its own association, all side by side, for S seconds or N stores\n"
      "in all; with --uid-prefix, store n of association a carries the SOP Instance UID P.a.n.\n"
      "Prints 'op=store count=N errors=E per_s=R p50_ms=X p95_ms=Y p99_ms=Z max_ms=M' (N: stores\n"
      "answered 0000; other statuses, refused and lost associations are errors, the run goes on)\n"
      "and exits 2 if any error occurred.\n",
      to);
}

bool is_uid(std::string_view text) {
  if (text.empty() || text.size() > 64 || text.front() == '.' || text.back() == '.') return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

std::string parse_args(int argc, char** argv, Options& opt) {
  const std::string error = pacs::tools::parse_flags(
      argc, argv, print_usage, [&](std::string_view arg, std::string_view value) -> std::string {
        if (arg == "--port" || arg == "--count" || arg == "--seconds" || arg == "--timeout" ||
            arg == "--associations") {
          const int max = arg == "--port"           ? 65535
                          : arg == "--timeout"      ? 3600
                          : arg == "--seconds"      ? 86400
                          : arg == "--associations" ? 64
                                                    : 10'000'000;
          const auto n = pacs::tools::parse_number<int>(value, 1, max);
          if (!n) {
            return std::string(arg) + " must be in [1, " + std::to_string(max) + "], got '" +
                   std::string(value) + "'";
          }
          int* target = arg == "--port"      ? &opt.port
                        : arg == "--count"   ? &opt.count
                        : arg == "--seconds" ? &opt.seconds
                        : arg == "--timeout" ? &opt.timeout_seconds
                                             : &opt.associations;
          *target = *n;
        } else if (arg == "--host" || arg == "--dir") {
          if (value.empty()) return std::string(arg) + " must not be empty";
          (arg == "--host" ? opt.host : opt.dir) = value;
        } else if (arg == "--aet" || arg == "--aec") {
          if (value.empty() || value.size() > 16) {
            return std::string(arg) + " must be 1..16 characters, got '" + std::string(value) + "'";
          }
          (arg == "--aet" ? opt.calling_aet : opt.called_aet) = value;
        } else if (arg == "--uid-prefix") {
          // Room for ".a.n" (a up to 2 digits, n up to 8) within the 64 characters of a UID.
          if (!is_uid(value) || value.size() > 52) {
            return "--uid-prefix must be a UID root of at most 52 characters, got '" +
                   std::string(value) + "'";
          }
          opt.uid_prefix = value;
        } else {
          return "unknown argument '" + std::string(arg) + "'";
        }
        return {};
      });
  if (!error.empty()) return error;
  if (opt.port == 0) return "--port is required";
  if (opt.called_aet.empty()) return "--aec is required";
  if (opt.dir.empty()) return "--dir is required";
  if ((opt.count == 0) == (opt.seconds == 0)) return "give one of --count and --seconds";
  return {};
}

struct Loaded {
  std::unique_ptr<DcmFileFormat> file;
  std::string sop_class;
};

// Reads every DICOM file below `dir` (sorted by path); false with a message on any failure.
bool load_files(const std::string& dir, std::vector<Loaded>& out, std::string& error) {
  std::vector<fs::path> paths;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".dcm") paths.push_back(it->path());
    if (paths.size() > kMaxFiles) {
      error = "more than " + std::to_string(kMaxFiles) + " files below " + dir;
      return false;
    }
  }
  if (ec) {
    error = "cannot list " + dir + ": " + ec.message();
    return false;
  }
  if (paths.empty()) {
    error = "no .dcm file below " + dir;
    return false;
  }
  std::sort(paths.begin(), paths.end());
  for (const fs::path& path : paths) {
    auto file = std::make_unique<DcmFileFormat>();
    const OFCondition cond = file->loadFile(path.c_str());
    if (cond.bad()) {
      error = "cannot read " + path.string() + ": " + pacs::tools::one_line(cond.text());
      return false;
    }
    DcmDataset* dataset = file->getDataset();
    // Everything is read now, so the sends never go back to the file.
    dataset->loadAllDataIntoMemory();
    if (DcmXfer(dataset->getOriginalXfer()).isEncapsulated()) {
      error = path.string() + " is compressed; only uncompressed files are sent";
      return false;
    }
    OFString sop_class;
    if (dataset->findAndGetOFString(DCM_SOPClassUID, sop_class).bad() || sop_class.empty()) {
      error = path.string() + " has no SOP Class UID";
      return false;
    }
    out.push_back({std::move(file), sop_class.c_str()});
  }
  return true;
}

// A new association proposing each SOP class with explicit and implicit VR little endian, or
// nullptr (with a message).
std::unique_ptr<DcmSCU> associate(const Options& opt, const std::set<std::string>& sop_classes,
                                  std::string& error) {
  auto scu = std::make_unique<DcmSCU>();
  pacs::tools::configure_scu(*scu, opt.calling_aet, opt.called_aet, opt.host, opt.port,
                             opt.timeout_seconds);
  const OFList<OFString> syntaxes = pacs::tools::little_endian_syntaxes();
  OFCondition cond;
  for (const std::string& sop_class : sop_classes) {
    if (cond.good()) cond = scu->addPresentationContext(sop_class.c_str(), syntaxes);
  }
  if (cond.good()) cond = scu->initNetwork();
  if (cond.good()) cond = scu->negotiateAssociation();
  if (cond.bad()) {
    error = "association to " + opt.called_aet + "@" + opt.host + ":" + std::to_string(opt.port) +
            " failed: " + pacs::tools::one_line(cond.text());
    return nullptr;
  }
  return scu;
}

// One association's stores: its share of the files in turn, for the deadline or `count` stores.
struct Sender {
  std::vector<Loaded> files;
  std::string uid_prefix;  // P.a with --uid-prefix P, for association a (from 1)
  std::vector<double> millis;
  long errors = 0;
  std::string first_error;

  void fail(std::string what) {
    ++errors;
    if (first_error.empty()) first_error = std::move(what);
  }

  void run(const Options& opt, const std::set<std::string>& sop_classes, long count,
           Clock::time_point deadline) {
    const bool timed = opt.seconds > 0;
    std::unique_ptr<DcmSCU> scu;
    // Store n (from 1) sends file (n - 1) mod files; bounded by `count` or by the deadline (and
    // kMaxStores).
    for (long n = 1; timed ? (Clock::now() < deadline && n <= kMaxStores) : n <= count; ++n) {
      if (!scu) {
        std::string error;
        scu = associate(opt, sop_classes, error);
        if (!scu) {
          fail(error);
          // Not a busy loop against a node that refuses associations; still bounded.
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
      }
      const Loaded& item = files[static_cast<std::size_t>(n - 1) % files.size()];
      DcmDataset* dataset = item.file->getDataset();
      if (!uid_prefix.empty()) {
        const std::string uid = uid_prefix + "." + std::to_string(n);
        dataset->putAndInsertString(DCM_SOPInstanceUID, uid.c_str());
      }
      const T_ASC_PresentationContextID pc =
          scu->findPresentationContextID(item.sop_class.c_str(), "");
      if (pc == 0) {
        fail(opt.called_aet + " did not accept SOP class " + item.sop_class);
        continue;
      }
      Uint16 status = 0xFFFF;
      const auto start = Clock::now();
      const OFCondition cond = scu->sendSTORERequest(pc, OFFilename(), dataset, status);
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (cond.bad()) {
        fail("C-STORE " + std::to_string(n) + ": " + pacs::tools::one_line(cond.text()));
        // The association's state is unknown after a failed exchange: the next store
        // negotiates a new one.
        scu->abortAssociation();
        scu.reset();
        continue;
      }
      if (status != STATUS_Success) {
        char text[64];
        std::snprintf(text, sizeof text, "C-STORE %ld: status %04X", n, status);
        fail(text);
        continue;
      }
      millis.push_back(ms);
    }
    if (scu) scu->releaseAssociation();
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (const std::string error = parse_args(argc, argv, opt); !error.empty()) {
    std::fprintf(stderr, "pacsnode-store-timer: %s\n", error.c_str());
    print_usage(stderr);
    return kExitBadArgs;
  }
  if (!pacs::tools::init_dcmtk("pacsnode-store-timer")) return kExitBadArgs;
  std::vector<Loaded> files;
  if (std::string error; !load_files(opt.dir, files, error)) {
    std::fprintf(stderr, "pacsnode-store-timer: %s\n", error.c_str());
    return kExitBadArgs;
  }
  const auto associations = static_cast<std::size_t>(opt.associations);
  if (files.size() < associations) {
    std::fprintf(stderr, "pacsnode-store-timer: %zu files for %zu associations\n", files.size(),
                 associations);
    return kExitBadArgs;
  }
  std::set<std::string> sop_classes;
  for (const Loaded& f : files) sop_classes.insert(f.sop_class);

  // Association a takes the a-th of A consecutive runs of the sorted files (its own patients and
  // studies, when the corpus has at least A patients), and the a-th of A shares of --count.
  std::vector<Sender> senders(associations);
  for (std::size_t a = 0; a < associations; ++a) {
    const std::size_t from = a * files.size() / associations;
    const std::size_t to = (a + 1) * files.size() / associations;
    for (std::size_t i = from; i < to; ++i) senders[a].files.push_back(std::move(files[i]));
    if (!opt.uid_prefix.empty())
      senders[a].uid_prefix = opt.uid_prefix + "." + std::to_string(a + 1);
  }
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::seconds(opt.seconds);
  {
    std::vector<std::jthread> threads;
    for (std::size_t a = 0; a < associations; ++a) {
      const long share = opt.count / opt.associations +
                         (static_cast<long>(a) < opt.count % opt.associations ? 1 : 0);
      threads.emplace_back([&, a, share] { senders[a].run(opt, sop_classes, share, deadline); });
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  std::vector<double> millis;
  long errors = 0;
  std::string first_error;
  for (const Sender& s : senders) {
    millis.insert(millis.end(), s.millis.begin(), s.millis.end());
    errors += s.errors;
    if (first_error.empty()) first_error = s.first_error;
  }
  std::printf("%s\n", pacs::tools::summary_line("store", millis, errors, seconds).c_str());
  if (errors > 0) {
    std::fprintf(stderr, "pacsnode-store-timer: %ld errors, the first: %s\n", errors,
                 first_error.c_str());
    return kExitErrors;
  }
  return 0;
}
