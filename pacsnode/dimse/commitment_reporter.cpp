#include "pacsnode/dimse/commitment_reporter.h"

#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>

#include "pacsnode/dimse/outbound_association.h"
#include "storage/model/log.h"

namespace pacs::dimse {

CommitmentReporter::CommitmentReporter(ReporterOptions options)
    : options_(std::move(options)), worker_([this](std::stop_token stop) { run(stop); }) {}

CommitmentReporter::~CommitmentReporter() {
  worker_.request_stop();
  wake_.notify_all();
  worker_.join();
  std::lock_guard lock(mu_);
  if (!jobs_.empty())
    PACS_LOG(Warn) << "storage commitment: " << jobs_.size()
                   << " reports not delivered before the node stopped";
}

bool CommitmentReporter::submit(CommitmentReport report) {
  if (!options_.peers || !options_.peers->find(report.requester_aet)) {
    PACS_LOG(Warn) << "storage commitment " << report.transaction_uid
                   << ": no report can be sent to " << report.requester_aet
                   << ", which is not a configured peer (--peer)";
    return false;
  }
  std::lock_guard lock(mu_);
  if (jobs_.size() >= options_.max_pending) {
    PACS_LOG(Error) << "storage commitment " << report.transaction_uid << ": " << jobs_.size()
                    << " reports already wait; this one is dropped";
    return false;
  }
  jobs_.push_back({std::move(report), 0, std::chrono::steady_clock::now()});
  wake_.notify_all();
  return true;
}

void CommitmentReporter::run(std::stop_token stop) {
  // Bounded by stop: each pass sends one report or waits for the next one due.
  while (!stop.stop_requested()) {
    Job job;
    {
      std::unique_lock lock(mu_);
      if (jobs_.empty()) {
        wake_.wait(lock, stop, [this] { return !jobs_.empty(); });
        continue;
      }
      const auto next = std::min_element(jobs_.begin(), jobs_.end(),
                                         [](const Job& a, const Job& b) { return a.due < b.due; });
      if (next->due > std::chrono::steady_clock::now()) {
        const auto due = next->due;
        // Woken early by a new report or stop; then the loop looks again.
        wake_.wait_until(lock, stop, due, [] { return false; });
        continue;
      }
      job = std::move(*next);
      jobs_.erase(next);
    }
    ++job.attempt;
    const std::string why = deliver(job.report);
    if (why.empty()) continue;
    if (job.attempt >= options_.attempts) {
      PACS_LOG(Error) << "storage commitment " << job.report.transaction_uid << ": report to "
                      << job.report.requester_aet << " not delivered after " << job.attempt
                      << " attempts: " << why;
      continue;
    }
    const auto delay = options_.first_retry * (1u << std::min(job.attempt - 1, 10u));
    PACS_LOG(Warn) << "storage commitment " << job.report.transaction_uid << ": report to "
                   << job.report.requester_aet << " failed (" << why << "); retry in "
                   << delay.count() << " ms";
    job.due = std::chrono::steady_clock::now() + delay;
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
}

std::string CommitmentReporter::deliver(const CommitmentReport& report) {
  // Looked up at each attempt: a reload (SIGHUP) may have changed the address.
  const auto peer = options_.peers->find(report.requester_aet);
  if (!peer) return report.requester_aet + " is no longer a configured peer";
  OutboundAssociation association;
  // We invoke the N-EVENT-REPORT, so we propose the SCP role (PS3.4 J.3.3, PS3.7 D.3.3.4).
  const std::string why = association.open(
      {options_.own_aet, report.requester_aet, *peer, options_.timeout_seconds},
      {{UID_StorageCommitmentPushModelSOPClass,
        {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax},
        ASC_SC_ROLE_SCP}});
  if (!why.empty()) return why;
  const T_ASC_PresentationContextID context = ASC_findAcceptedPresentationContextID(
      association.get(), UID_StorageCommitmentPushModelSOPClass);
  if (context == 0) return "the requester did not accept the storage commitment class";
  auto status = send_event_report(association.get(), context, 1, report, options_.own_aet,
                                  static_cast<int>(options_.timeout_seconds));
  if (!status) {
    association.mark_broken();
    return std::string("no N-EVENT-REPORT response: ") + status.error().text();
  }
  // A failure status is the requester's to explain; the report reached it, so it is not resent.
  if (*status != 0)
    PACS_LOG(Warn) << "storage commitment " << report.transaction_uid << ": "
                   << report.requester_aet << " answered the report with status 0x" << std::hex
                   << *status << std::dec;
  else
    PACS_LOG(Info) << "storage commitment " << report.transaction_uid << ": reported to "
                   << report.requester_aet << " on a new association";
  return {};
}

}  // namespace pacs::dimse
