// A real MLLP client for tests: a TCP connection to 127.0.0.1, frames out, frames in.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "security/tls_session.h"

namespace pacs::testing {

class MllpClient {
 public:
  // Connects (over TLS with a client context: the node's certificate is checked for 127.0.0.1);
  // throws when it cannot.
  explicit MllpClient(int port, const security::SslContext& tls = nullptr);
  ~MllpClient();
  MllpClient(const MllpClient&) = delete;
  MllpClient& operator=(const MllpClient&) = delete;

  // Sends the message framed and returns the acknowledgement's text (unframed), or nullopt when
  // the connection closed or nothing came in time.
  std::optional<std::string> exchange(std::string_view message,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Writes bytes as they are (broken frames, garbage); false when the connection refused them.
  bool send_raw(std::string_view bytes);
  // The next framed message from the node, or nullopt on close or timeout.
  std::optional<std::string> read_frame(std::chrono::milliseconds timeout);
  // Whether the node closes the connection within the timeout (reading and dropping anything).
  bool closed_by_peer(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::unique_ptr<security::TlsSession> tls_;
  std::string pending_;  // bytes read after the last frame
};

// A real MLLP receiver for tests (a RIS or EHR): accepts on 127.0.0.1, records every message and
// answers each with an AA, except those `unanswered` picks: it records them and closes the
// connection without an answer (a receiver that chokes on them), after holding it open for
// hold_unanswered (one that hangs). One connection at a time.
class MllpListener {
 public:
  // Listens (over TLS with a server context); throws when it cannot.
  explicit MllpListener(int port, security::SslContext tls = nullptr,
                        std::function<bool(const std::string&)> unanswered = {},
                        std::chrono::milliseconds hold_unanswered = {});
  ~MllpListener();
  MllpListener(const MllpListener&) = delete;
  MllpListener& operator=(const MllpListener&) = delete;

  // The messages received so far, in order.
  std::vector<std::string> messages();
  // Waits until some message contains `text`; returns it, or nullopt after the timeout.
  std::optional<std::string> wait_for(const std::string& text, std::chrono::milliseconds timeout);

 private:
  void run();
  int fd_ = -1;
  security::SslContext tls_;
  std::function<bool(const std::string&)> unanswered_;
  std::chrono::milliseconds hold_unanswered_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> messages_;  // guarded by mu_
  std::thread thread_;
};

// "MSH|^~\&|..." with segments given one per line: the lines joined with CR.
std::string hl7_message(std::initializer_list<std::string_view> segments);

// The value of MSA-1 (AA, AE, AR) and MSA-2 of an acknowledgement, "" when absent.
std::string ack_code(const std::string& ack);
std::string ack_control_id(const std::string& ack);

// One HL7 segment from numbered fields; absent fields stay empty.
std::string segment(const std::string& id, const std::map<int, std::string>& fields);

// The fields of an order message a test varies.
struct Order {
  std::string control_id = "";
  std::string order_control = "NW";
  std::string order_status = "SC";  // ORC-5
  std::string placer = "", filler = "", accession = "";
  std::string patient_id = "P12345", patient_name = "Doe^Jane^A^^Mrs", birth_date = "19700101";
  std::string modality = "CT", start = "20261124100000", study_uid = "";
  std::string version = "2.3.1";
};

// An ORM^O01 as IHE RAD-4 shapes it (v2.3.1, ISO 8859-1, ZDS with the Study Instance UID).
std::string orm(const Order& o);

// Order `n` of a series named by `prefix`: control ID PREFIXn, placer PREFIXPn, filler PREFIXFn,
// accession PREFIXAn, for the patient given.
Order numbered_order(const std::string& prefix, int n, const std::string& patient_id);

}  // namespace pacs::testing
