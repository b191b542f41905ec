// Storage commitment reports sent on associations the node opens to the requester (PS3.4 J.3.3):
// when the requester released its own, or asked for it with --commitment-report new. One worker
// thread sends them in turn, retrying each a bounded number of times with doubling delays.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pacsnode/dimse/commitment_messages.h"
#include "pacsnode/dimse/peer_directory.h"

namespace pacs::dimse {

struct ReporterOptions {
  std::string own_aet;
  std::shared_ptr<const PeerDirectory> peers;   // where a requester's AE title is found
  unsigned attempts = 5;                        // per report, the first one included
  std::chrono::milliseconds first_retry{1000};  // then 2 s, 4 s, 8 s...
  unsigned timeout_seconds = 10;                // connect, association, response
  std::size_t max_pending = 256;                // reports waiting; more are dropped (logged)
};

class CommitmentReporter {
 public:
  explicit CommitmentReporter(ReporterOptions options);
  ~CommitmentReporter();  // stops: a report under way finishes its attempt, waiting ones are lost
  CommitmentReporter(const CommitmentReporter&) = delete;
  CommitmentReporter& operator=(const CommitmentReporter&) = delete;

  // Queues a report for its requester. False, logged, when it cannot go anywhere: the requester
  // is not a configured peer, or too many reports wait.
  bool submit(CommitmentReport report);

 private:
  struct Job {
    CommitmentReport report;
    unsigned attempt = 0;  // attempts made
    std::chrono::steady_clock::time_point due;
  };
  void run(std::stop_token stop);
  // One attempt: an empty string when the requester acknowledged the report, else why not.
  std::string deliver(const CommitmentReport& report);

  ReporterOptions options_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::deque<Job> jobs_;  // guarded by mu_
  std::jthread worker_;   // last: starts once everything above exists
};

}  // namespace pacs::dimse
