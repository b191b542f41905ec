// Where audit events go: an append-only local log (one RFC 5424 syslog line per event, the
// AuditMessage XML as its message), and optionally a syslog collector over UDP (RFC 5426) or TLS
// (RFC 5425). Recording queues the event for a writer thread, so no face waits on the network.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "security/audit_event.h"
#include "security/tls.h"
#include "storage/model/result.h"

namespace pacs::audit {

struct TrailSettings {
  std::string log_file;       // appended to, created 0600 when missing
  std::string syslog;         // "", "udp://HOST:PORT" or "tls://HOST:PORT"
  security::TlsSettings tls;  // for tls:// (the collector's certificate is verified)
  std::string source_id;      // AuditSourceID: the node's AE title
};

class Trail {
 public:
  static Result<std::unique_ptr<Trail>> open(TrailSettings settings);
  ~Trail();  // writes what is queued, then closes
  Trail(const Trail&) = delete;
  Trail& operator=(const Trail&) = delete;

  void record(const Event& event);

 private:
  explicit Trail(TrailSettings settings);
  void run();
  void write_text(std::string_view text);  // whole lines, each ending in a newline
  void send(const std::string& line);

  TrailSettings settings_;
  int file_ = -1;
  int udp_ = -1;
  security::SslContext tls_context_;
  std::string host_;
  int port_ = 0;
  std::string host_name_;
  std::mutex mu_;
  std::condition_variable wake_;
  struct Queued {
    Event event;
    std::chrono::system_clock::time_point at;
  };
  std::deque<Queued> queue_;  // events to write, guarded by mu_
  bool stopping_ = false;     // guarded by mu_
  std::thread writer_;
  struct TlsLink;
  std::unique_ptr<TlsLink> tls_link_;  // the writer's connection to a TLS collector
};

// The process's trail, for the faces: nothing is recorded until one is installed.
void install(Trail* trail);
void record(const Event& event);

// One RFC 5424 line for an event's XML (PRI authpriv, notice or warning by outcome).
std::string syslog_line(const std::string& xml, int outcome, const std::string& host);

}  // namespace pacs::audit
