// pacsnode-find-timer: times one study-level C-FIND (or, with --worklist, a Modality Worklist
// C-FIND), repeated over ONE association (explicit and implicit VR little endian), and prints the
// median and 95th percentile of the round trip (request sent .. final response received) and the
// match count of the last query:
//
//   median_ms=X p95_ms=Y matches=M
//
// QueryRetrieveLevel=STUDY and an empty StudyInstanceUID (a return key) are added unless given;
// with --worklist, --step-key keys go into the Scheduled Procedure Step Sequence item.
// DCMTK reads TCP_NODELAY=1 from the environment to disable Nagle on the socket.

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dctag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scu.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/tools/one_line.h"
#include "tests/tools/parse_number.h"
#include "tests/tools/scu.h"
#include "tests/tools/stats.h"

namespace {

constexpr int kExitBadArgs = 1;
constexpr int kExitAssociationFailed = 2;
constexpr int kExitQueryFailed = 3;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string calling_aet = "FINDTIMER";
  std::string called_aet;
  int count = 0;
  int warmup = 0;
  int timeout_seconds = 30;
  std::vector<std::pair<DcmTagKey, std::string>> keys;  // in order; a later key overrides
  bool worklist = false;
  std::vector<std::pair<DcmTagKey, std::string>> step_keys;  // worklist: in the SPS item
};

void print_usage(std::FILE* to) {
  std::fputs(
      "usage: pacsnode-find-timer --port N --aec CALLED --count N [--key TAG=VALUE]...\n"
      "         [--host HOST=127.0.0.1] [--aet CALLING=FINDTIMER] [--warmup N=0]\n"
      "         [--timeout S=30] [--worklist [--step-key TAG=VALUE]...]\n"
      "Runs the study-level C-FIND (Study Root) N times over one association after --warmup\n"
      "untimed ones and prints 'median_ms=X p95_ms=Y matches=M' (M: matches of the last query).\n"
      "TAG is a keyword (PatientID) or gggg,eeee; QueryRetrieveLevel=STUDY and an empty\n"
      "StudyInstanceUID are added unless given. A key given twice keeps the last value.\n"
      "--worklist queries the Modality Worklist instead (no level added); --step-key keys go into\n"
      "the Scheduled Procedure Step Sequence item.\n",
      to);
}

// Returns an error message, or an empty string when the arguments are valid.
std::string parse_args(int argc, char** argv, Options& opt) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      std::exit(0);
    }
    if (arg == "--worklist") {
      opt.worklist = true;
      continue;
    }
    if (i + 1 >= argc) return "missing value for " + std::string(arg);
    const std::string_view value = argv[++i];
    if (arg == "--port" || arg == "--count" || arg == "--warmup" || arg == "--timeout") {
      const int min = arg == "--warmup" ? 0 : 1;
      const int max = arg == "--port" ? 65535 : arg == "--timeout" ? 3600 : 1'000'000;
      const auto n = pacs::tools::parse_number<int>(value, min, max);
      if (!n) {
        return std::string(arg) + " must be in [" + std::to_string(min) + ", " +
               std::to_string(max) + "], got '" + std::string(value) + "'";
      }
      int* target = &opt.timeout_seconds;
      if (arg == "--port") target = &opt.port;
      if (arg == "--count") target = &opt.count;
      if (arg == "--warmup") target = &opt.warmup;
      *target = *n;
    } else if (arg == "--host") {
      if (value.empty()) return "--host must not be empty";
      opt.host = value;
    } else if (arg == "--aet" || arg == "--aec") {
      if (value.empty() || value.size() > 16) {
        return std::string(arg) + " must be 1..16 characters, got '" + std::string(value) + "'";
      }
      (arg == "--aet" ? opt.calling_aet : opt.called_aet) = value;
    } else if (arg == "--key" || arg == "--step-key") {
      const std::size_t eq = value.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return "--key must be TAG=VALUE, got '" + std::string(value) + "'";
      }
      const std::string name(value.substr(0, eq));
      DcmTag tag;
      if (DcmTag::findTagFromName(name.c_str(), tag).bad()) {
        return "--key: unknown attribute '" + name + "'";
      }
      (arg == "--key" ? opt.keys : opt.step_keys)
          .emplace_back(tag, std::string(value.substr(eq + 1)));
    } else {
      return "unknown argument '" + std::string(arg) + "'";
    }
  }
  if (opt.port == 0) return "--port is required";
  if (opt.called_aet.empty()) return "--aec is required";
  if (opt.count == 0) return "--count is required";
  return {};
}

// Builds the query: the defaults first, then the user's keys (a later key overrides).
bool build_query(const Options& opt, DcmDataset& query, std::string& error) {
  std::vector<std::pair<DcmTagKey, std::string>> keys;
  if (!opt.worklist) keys = {{DCM_QueryRetrieveLevel, "STUDY"}, {DCM_StudyInstanceUID, ""}};
  keys.insert(keys.end(), opt.keys.begin(), opt.keys.end());
  DcmItem* step = nullptr;
  if (opt.worklist &&
      query.findOrCreateSequenceItem(DCM_ScheduledProcedureStepSequence, step, 0).bad()) {
    error = "cannot add the Scheduled Procedure Step Sequence";
    return false;
  }
  for (const auto& [tag, value] : opt.step_keys) {
    if (!step || step->putAndInsertString(tag, value.c_str()).bad()) {
      error = "cannot set step key " + std::string(DcmTag(tag).getTagName());
      return false;
    }
  }
  for (const auto& [tag, value] : keys) {
    const OFCondition cond = query.putAndInsertString(tag, value.c_str());
    if (cond.bad()) {
      error = "cannot set " + std::string(DcmTag(tag).getTagName()) + "='" + value +
              "': " + pacs::tools::one_line(cond.text());
      return false;
    }
  }
  return true;
}

// Runs one C-FIND; sets `matches` (pending responses). False on a failure or a non-success
// final status, with a message in `error`.
bool run_query(DcmSCU& scu, T_ASC_PresentationContextID pc, DcmDataset& query, long& matches,
               std::string& error) {
  OFList<QRResponse*> responses;
  const OFCondition cond = scu.sendFINDRequest(pc, &query, &responses);
  matches = 0;
  Uint16 final_status = 0xFFFF;
  bool have_final = false;
  for (QRResponse* response : responses) {
    if (response->m_status == STATUS_FIND_Pending_MatchesAreContinuing ||
        response->m_status == STATUS_FIND_Pending_WarningUnsupportedOptionalKeys) {
      ++matches;
    } else {
      final_status = response->m_status;
      have_final = true;
    }
    delete response;
  }
  if (cond.bad()) {
    error = "C-FIND failed: " + pacs::tools::one_line(cond.text());
    return false;
  }
  if (!have_final || final_status != STATUS_Success) {
    char status[8];
    std::snprintf(status, sizeof status, "%04X", final_status);
    error = have_final ? std::string("C-FIND final status ") + status
                       : std::string("C-FIND ended without a final response");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (const std::string error = parse_args(argc, argv, opt); !error.empty()) {
    std::fprintf(stderr, "pacsnode-find-timer: %s\n", error.c_str());
    print_usage(stderr);
    return kExitBadArgs;
  }
  if (!pacs::tools::init_dcmtk("pacsnode-find-timer")) return kExitBadArgs;

  DcmDataset query;
  if (std::string error; !build_query(opt, query, error)) {
    std::fprintf(stderr, "pacsnode-find-timer: %s\n", error.c_str());
    return kExitBadArgs;
  }

  DcmSCU scu;
  pacs::tools::configure_scu(scu, opt.calling_aet, opt.called_aet, opt.host, opt.port,
                             opt.timeout_seconds);
  const char* model = opt.worklist ? UID_FINDModalityWorklistInformationModel
                                   : UID_FINDStudyRootQueryRetrieveInformationModel;
  OFCondition cond = scu.addPresentationContext(model, pacs::tools::little_endian_syntaxes());
  if (cond.good()) cond = scu.initNetwork();
  if (cond.good()) cond = scu.negotiateAssociation();
  if (cond.bad()) {
    std::fprintf(stderr, "pacsnode-find-timer: association to %s@%s:%d failed: %s\n",
                 opt.called_aet.c_str(), opt.host.c_str(), opt.port,
                 pacs::tools::one_line(cond.text()).c_str());
    return kExitAssociationFailed;
  }
  const T_ASC_PresentationContextID pc = scu.findPresentationContextID(model, "");
  if (pc == 0) {
    std::fprintf(stderr, "pacsnode-find-timer: %s did not accept %s\n", opt.called_aet.c_str(),
                 opt.worklist ? "Modality Worklist FIND" : "Study Root FIND");
    scu.releaseAssociation();
    return kExitAssociationFailed;
  }

  std::vector<double> millis;
  millis.reserve(static_cast<std::size_t>(opt.count));
  long matches = 0;
  for (int i = 0; i < opt.warmup + opt.count; ++i) {
    std::string error;
    const auto start = std::chrono::steady_clock::now();
    const bool ok = run_query(scu, pc, query, matches, error);
    const auto stop = std::chrono::steady_clock::now();
    if (!ok) {
      std::fprintf(stderr, "pacsnode-find-timer: query %d: %s\n", i + 1, error.c_str());
      if (scu.isConnected()) scu.abortAssociation();
      return kExitQueryFailed;
    }
    if (i >= opt.warmup) {
      millis.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    }
  }
  scu.releaseAssociation();

  std::sort(millis.begin(), millis.end());
  std::printf("median_ms=%.3f p95_ms=%.3f matches=%ld\n", pacs::tools::median(millis),
              pacs::tools::percentile(millis, 95), matches);
  return 0;
}
