// pacsnode-raw-store: sends one C-STORE whose dataset bytes are taken verbatim from a file.

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dul.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pacsnode/dimse/store_request.h"
#include "tests/tools/one_line.h"
#include "tests/tools/parse_number.h"

namespace {

constexpr int kExitBadArgs = 1;
constexpr int kExitAssociationFailed = 2;
constexpr int kExitNoResponse = 3;
constexpr T_ASC_PresentationContextID kPresentationContextId = 1;

struct Options {
  std::string host;
  int port = 0;
  std::string calling_aet;
  std::string called_aet;
  std::string sop_class;
  std::string sop_instance;
  std::string syntax;
  std::string dataset_path;
  int timeout_seconds = 30;
};

void print_usage(std::FILE* to) {
  std::fputs(
      "usage: pacsnode-raw-store --host HOST --port N --aet CALLING --call CALLED\n"
      "         --sop-class UID --sop-instance UID --syntax UID --dataset FILE [--timeout S=30]\n"
      "FILE holds dataset bytes only (no preamble/meta header) encoded in --syntax; they are\n"
      "sent unparsed as the C-STORE data set.\n",
      to);
}

// Returns an error message, or an empty string when the arguments are valid.
std::string parse_args(int argc, char** argv, Options& opt) {
  struct StringArg {
    const char* name;
    std::string* target;
    std::size_t max_length;
  };
  const StringArg strings[] = {
      {"--host", &opt.host, 255},
      {"--aet", &opt.calling_aet, 16},
      {"--call", &opt.called_aet, 16},
      {"--sop-class", &opt.sop_class, 64},
      {"--sop-instance", &opt.sop_instance, 64},
      {"--syntax", &opt.syntax, 64},
      {"--dataset", &opt.dataset_path, 4096},
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    bool known = arg == "--port" || arg == "--timeout";
    for (const StringArg& s : strings) known = known || arg == s.name;
    if (!known) return "unknown argument '" + std::string(arg) + "'";
    if (i + 1 >= argc) return "missing value for " + std::string(arg);
    const std::string_view value = argv[++i];
    if (arg == "--port") {
      const auto port = pacs::tools::parse_number<int>(value, 1, 65535);
      if (!port) return "--port must be in [1, 65535], got '" + std::string(value) + "'";
      opt.port = *port;
      continue;
    }
    if (arg == "--timeout") {
      const auto timeout = pacs::tools::parse_number<int>(value, 1, 3600);
      if (!timeout)
        return "--timeout must be in [1, 3600] seconds, got '" + std::string(value) + "'";
      opt.timeout_seconds = *timeout;
      continue;
    }
    for (const StringArg& s : strings) {
      if (arg != s.name) continue;
      // The UIDs may deliberately be odd (tests probe the receiver), but they must fit DICOM's
      // fixed-size fields in DCMTK's association and command structures.
      if (value.empty() || value.size() > s.max_length) {
        return std::string(arg) + " must be 1.." + std::to_string(s.max_length) +
               " characters, got '" + std::string(value) + "'";
      }
      *s.target = value;
    }
  }
  const StringArg* required[] = {&strings[0], &strings[1], &strings[2], &strings[3],
                                 &strings[4], &strings[5], &strings[6]};
  for (const StringArg* s : required) {
    if (s->target->empty()) return std::string(s->name) + " is required";
  }
  if (opt.port == 0) return "--port is required";
  return {};
}

// Owns the network and association so every exit path releases DCMTK resources.
class Session {
 public:
  Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    if (assoc_ != nullptr) ASC_destroyAssociation(&assoc_);
    if (net_ != nullptr) ASC_dropNetwork(&net_);
  }

  T_ASC_Network* net_ = nullptr;
  T_ASC_Association* assoc_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_usage(stdout);
      return 0;
    }
  }
  Options opt;
  const std::string arg_error = parse_args(argc, argv, opt);
  if (!arg_error.empty()) {
    std::fprintf(stderr, "pacsnode-raw-store: %s (see --help)\n", arg_error.c_str());
    return kExitBadArgs;
  }
  const int dataset_fd = ::open(opt.dataset_path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat dataset_status {};
  if (dataset_fd < 0 || ::fstat(dataset_fd, &dataset_status) != 0) {
    std::fprintf(stderr, "pacsnode-raw-store: cannot open dataset file '%s'\n",
                 opt.dataset_path.c_str());
    return kExitBadArgs;
  }
  if (!dcmDataDict.isDictionaryLoaded()) {
    std::fprintf(stderr, "pacsnode-raw-store: DICOM data dictionary not loaded (DCMDICTPATH?)\n");
    return kExitBadArgs;
  }

  // Bound every blocking step: TCP connect, ACSE exchange and socket reads.
  dcmConnectionTimeout.set(opt.timeout_seconds);
  dcmSocketReceiveTimeout.set(opt.timeout_seconds);

  Session session;
  T_ASC_Parameters* params = nullptr;
  OFCondition cond = ASC_initializeNetwork(NET_REQUESTOR, 0, opt.timeout_seconds, &session.net_);
  if (cond.good()) cond = ASC_createAssociationParameters(&params, ASC_DEFAULTMAXPDU);
  if (cond.bad()) {
    std::printf("association-failed: %s\n", pacs::tools::one_line(cond.text()).c_str());
    return kExitAssociationFailed;
  }
  const std::string peer = opt.host + ":" + std::to_string(opt.port);
  const char* syntaxes[] = {opt.syntax.c_str()};
  cond = ASC_setAPTitles(params, opt.calling_aet.c_str(), opt.called_aet.c_str(), nullptr);
  if (cond.good()) cond = ASC_setPresentationAddresses(params, "localhost", peer.c_str());
  if (cond.good()) {
    cond = ASC_addPresentationContext(params, kPresentationContextId, opt.sop_class.c_str(),
                                      syntaxes, 1);
  }
  if (cond.bad()) {
    ASC_destroyAssociationParameters(&params);
    std::printf("association-failed: %s\n", pacs::tools::one_line(cond.text()).c_str());
    return kExitAssociationFailed;
  }
  // On success and on most failures the association takes ownership of params.
  cond = ASC_requestAssociation(session.net_, params, &session.assoc_);
  if (cond.bad()) {
    std::string reason = cond.text();
    if (cond == DUL_ASSOCIATIONREJECTED) {
      T_ASC_RejectParameters rej;
      ASC_getRejectParameters(params, &rej);
      OFString text;
      reason += ": " + std::string(ASC_printRejectParameters(text, &rej).c_str());
    }
    if (session.assoc_ == nullptr) ASC_destroyAssociationParameters(&params);
    std::printf("association-failed: %s\n", pacs::tools::one_line(reason).c_str());
    return kExitAssociationFailed;
  }
  T_ASC_PresentationContext pc;
  if (ASC_countAcceptedPresentationContexts(session.assoc_->params) == 0 ||
      ASC_findAcceptedPresentationContext(session.assoc_->params, kPresentationContextId, &pc)
          .bad()) {
    ASC_abortAssociation(session.assoc_);
    std::printf("association-failed: presentation context for %s / %s not accepted\n",
                opt.sop_class.c_str(), opt.syntax.c_str());
    return kExitAssociationFailed;
  }

  const pacs::dimse::StoreCommand command{opt.sop_class, opt.sop_instance,
                                          session.assoc_->nextMsgID++, "", 0};
  pacs::dimse::StoreRequestWriter writer;
  cond = writer.prepare(session.assoc_, kPresentationContextId, command, dataset_fd, 0,
                        static_cast<std::uint64_t>(dataset_status.st_size));
  if (cond.good()) cond = writer.write();
  ::close(dataset_fd);
  // A send failure (e.g. the peer aborted mid-transfer) still leaves a chance that a response or
  // abort is waiting, so we go on to read and report whatever arrives.

  T_ASC_PresentationContextID rsp_pc = 0;
  T_DIMSE_Message rsp;
  DcmDataset* status_detail = nullptr;
  DcmDataset* command_set = nullptr;
  const OFCondition rcond =
      DIMSE_receiveCommand(session.assoc_, DIMSE_NONBLOCKING, opt.timeout_seconds, &rsp_pc, &rsp,
                           &status_detail, &command_set);
  if (rcond.bad() || rsp.CommandField != DIMSE_C_STORE_RSP) {
    std::string reason = rcond.bad() ? rcond.text() : "unexpected DIMSE command in response";
    if (cond.bad()) reason = std::string(cond.text()) + "; " + reason;
    delete status_detail;
    delete command_set;
    if (rcond == DUL_PEERABORTEDASSOCIATION || rcond == DUL_PEERREQUESTEDRELEASE) {
      ASC_dropAssociation(session.assoc_);
    } else {
      ASC_abortAssociation(session.assoc_);
    }
    std::printf("no-response: %s\n", pacs::tools::one_line(reason).c_str());
    return kExitNoResponse;
  }

  std::string line = "status=0x";
  char hex[8];
  std::snprintf(hex, sizeof(hex), "%04X", static_cast<unsigned>(rsp.msg.CStoreRSP.DimseStatus));
  line += hex;
  // DIMSE moves status detail elements it does not map into status_detail; look there first and
  // then in the full command in case a future DCMTK maps Error Comment itself.
  OFString comment;
  const bool has_comment =
      (status_detail != nullptr &&
       status_detail->findAndGetOFString(DCM_ErrorComment, comment).good()) ||
      (command_set != nullptr && command_set->findAndGetOFString(DCM_ErrorComment, comment).good());
  if (has_comment) line += " comment=" + pacs::tools::one_line(comment.c_str());
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  delete status_detail;
  delete command_set;

  if (ASC_releaseAssociation(session.assoc_).bad()) ASC_abortAssociation(session.assoc_);
  return 0;
}
