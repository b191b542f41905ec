// The audit trail on a real node: the PS3.15 A.5 messages for start and stop, C-STORE, C-FIND,
// C-MOVE, a failed HTTP login and an HL7 order, in the local log and at a syslog collector on
// loopback (UDP, and TLS with RFC 5425 framing); checked for structure and event codes.
#include <arpa/inet.h>
#include <dcmtk/dcmdata/dctagkey.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <mutex>
#include <sstream>
#include <thread>

#include "security/tls.h"
#include "security/tls_session.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/mllp.h"
#include "tests/support/process.h"
#include "tests/support/storescp.h"
#include "tests/support/test_node.h"
#include "tests/support/tls_files.h"

namespace pacs {
namespace {
using testing::TestNode;
namespace pt = boost::property_tree;

// A syslog collector on 127.0.0.1: UDP datagrams, or a TLS stream of "LENGTH SP MESSAGE" frames.
class Collector {
 public:
  explicit Collector(security::SslContext tls = nullptr) : tls_(std::move(tls)) {
    fd_ = ::socket(AF_INET, (tls_ ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        (tls_ && ::listen(fd_, 4) != 0))
      throw std::runtime_error("collector socket");
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { tls_ ? run_tls() : run_udp(); });
  }
  ~Collector() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::vector<std::string> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  // Waits until a message holds `text`.
  bool wait_for(const std::string& text) {
    for (int i = 0; i < 200; ++i) {
      for (const auto& m : messages())
        if (m.find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  void keep(std::string message) {
    std::lock_guard lock(mu_);
    messages_.push_back(std::move(message));
  }
  void run_udp() {
    // Bounded by stop_.
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      std::string buffer(65536, '\0');
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n > 0) keep(buffer.substr(0, static_cast<std::size_t>(n)));
    }
  }
  void run_tls() {
    // One connection at a time, bounded by stop_.
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      auto session = security::TlsSession::handshake(
          tls_, fd, true, std::chrono::steady_clock::now() + std::chrono::seconds(10));
      std::string pending;
      while (session && !stop_) {
        if (!(*session)->buffered()) {
          pollfd c{fd, POLLIN, 0};
          if (::poll(&c, 1, 100) <= 0) continue;
        }
        char buffer[65536];
        const long n = (*session)->read(buffer, sizeof buffer);
        if (n == security::TlsSession::kWouldBlock) continue;
        if (n <= 0) break;
        pending.append(buffer, static_cast<std::size_t>(n));
        // RFC 5425 octet counting.
        for (;;) {
          const auto space = pending.find(' ');
          if (space == std::string::npos) break;
          const std::size_t length = std::stoul(pending.substr(0, space));
          if (pending.size() < space + 1 + length) break;
          keep(pending.substr(space + 1, length));
          pending.erase(0, space + 1 + length);
        }
      }
      session = fail(ErrorCode::NotFound, "");
      ::close(fd);
    }
  }

  security::SslContext tls_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> messages_;
  std::thread thread_;
};

// The AuditMessage of a syslog line, parsed (throws when it is not well-formed XML).
pt::ptree audit_message(const std::string& line) {
  const auto bom = line.find("\xEF\xBB\xBF");
  EXPECT_NE(bom, std::string::npos) << line;
  EXPECT_EQ(line.rfind("<85>1 ", 0) == 0 || line.rfind("<84>1 ", 0) == 0, true) << line;
  EXPECT_NE(line.find(" pacsnode "), std::string::npos);
  std::istringstream xml(line.substr(bom + 3));
  pt::ptree tree;
  pt::read_xml(xml, tree);
  return tree.get_child("AuditMessage");
}

struct Seen {
  std::string event, action, outcome, type;
  pt::ptree message;
};

std::vector<Seen> events(const std::vector<std::string>& lines) {
  std::vector<Seen> out;
  for (const auto& line : lines) {
    auto m = audit_message(line);
    const auto& id = m.get_child("EventIdentification");
    out.push_back({id.get<std::string>("EventID.<xmlattr>.csd-code"),
                   id.get<std::string>("<xmlattr>.EventActionCode"),
                   id.get<std::string>("<xmlattr>.EventOutcomeIndicator"),
                   id.get<std::string>("EventTypeCode.<xmlattr>.csd-code", ""), m});
  }
  return out;
}

const Seen* find_event(const std::vector<Seen>& all, const std::string& event,
                       const std::string& action) {
  for (const auto& e : all)
    if (e.event == event && e.action == action) return &e;
  return nullptr;
}

// The ParticipantObjectIDs of one ID type code in a message.
std::vector<std::string> objects_of(const pt::ptree& message, const std::string& id_type) {
  std::vector<std::string> out;
  for (const auto& [name, child] : message)
    if (name == "ParticipantObjectIdentification" &&
        child.get<std::string>("ParticipantObjectIDTypeCode.<xmlattr>.csd-code") == id_type)
      out.push_back(child.get<std::string>("<xmlattr>.ParticipantObjectID"));
  return out;
}

TEST(AuditTest, StoreQueryMoveLoginAndOrdersAreAuditedLocallyAndOverUdp) {
  Collector collector;
  testing::Storescp destination;
  testing::TempDir dir;
  TestNode node(
      {.db = "sqlite",
       .extra_flags = {"--audit-syslog", "udp://127.0.0.1:" + std::to_string(collector.port()),
                       "--peer", "DEST=127.0.0.1:" + std::to_string(destination.port())}});
  node.start();
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "2", "--rows", "16", "--columns", "16"});
  const auto study = testing::value_of(files[0], DcmTagKey(0x0020, 0x000D));
  const auto patient_id = testing::value_of(files[0], DcmTagKey(0x0010, 0x0020));
  const auto patient_name = testing::value_of(files[0], DcmTagKey(0x0010, 0x0010));
  ASSERT_EQ(testing::storescu(node.dimse_port(), {files[0].string(), files[1].string()}).exit_code,
            0);
  ASSERT_EQ(testing::run_dcmtk_tool({"findscu", "-S", "-aec", "PACSNODE"},
                                    {"QueryRetrieveLevel=STUDY", "PatientID=" + patient_id},
                                    node.dimse_port())
                .exit_code,
            0);
  ASSERT_EQ(testing::run_dcmtk_tool({"movescu", "-S", "-aec", "PACSNODE", "-aem", "DEST"},
                                    {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study},
                                    node.dimse_port())
                .exit_code,
            0);
  const auto order = testing::numbered_order("AUD", 1, "AUDPAT");
  testing::MllpClient mllp(node.mllp_port());
  ASSERT_EQ(testing::ack_code(mllp.exchange(testing::orm(order)).value_or("")), "AA");
  EXPECT_EQ(
      testing::http_request(node.http_port(), "GET", "/dicom-web/studies?PatientID=" + patient_id)
          .status,
      200);
  ASSERT_TRUE(collector.wait_for("110109")) << node.log();
  ASSERT_EQ(node.stop(), 0);
  ASSERT_TRUE(collector.wait_for("110121"));

  const auto seen = events(collector.messages());
  const Seen* start = find_event(seen, "110100", "E");
  ASSERT_TRUE(start);
  EXPECT_EQ(start->type, "110120");
  const Seen* stored = find_event(seen, "110104", "C");
  ASSERT_TRUE(stored) << "C-STORE: DICOM Instances Transferred, create";
  EXPECT_EQ(stored->outcome, "0");
  EXPECT_EQ(objects_of(stored->message, "110180"), std::vector<std::string>{study});
  EXPECT_EQ(objects_of(stored->message, "2"), std::vector<std::string>{patient_id});
  int sop_instances = 0;
  for (const auto& [name, child] : stored->message)
    if (name == "ParticipantObjectIdentification")
      for (const auto& [inner, sop] : child)
        if (inner == "SOPClass") sop_instances += sop.get<int>("<xmlattr>.NumberOfInstances");
  EXPECT_EQ(sop_instances, 2);
  int requestors = 0;
  for (const auto& [name, child] : stored->message)
    if (name == "ActiveParticipant") {
      const bool requestor = child.get<std::string>("<xmlattr>.UserIsRequestor") == "true";
      requestors += requestor;
      if (requestor) {
        EXPECT_EQ(child.get<std::string>("<xmlattr>.UserID"), "STORESCU");
        EXPECT_EQ(child.get<std::string>("<xmlattr>.NetworkAccessPointID"), "127.0.0.1");
        EXPECT_EQ(child.get<std::string>("RoleIDCode.<xmlattr>.csd-code"), "110153");
      }
    }
  EXPECT_EQ(requestors, 1);
  int queries = 0;
  for (const auto& e : seen) queries += e.event == "110112";
  EXPECT_EQ(queries, 2) << "C-FIND and QIDO-RS";
  const Seen* query = find_event(seen, "110112", "E");
  ASSERT_TRUE(query);
  EXPECT_EQ(objects_of(query->message, "110181").size(), 1u) << "the query's SOP class";
  const Seen* moved = find_event(seen, "110104", "R");
  ASSERT_TRUE(moved) << "C-MOVE: DICOM Instances Transferred, read";
  EXPECT_EQ(objects_of(moved->message, "110180"), std::vector<std::string>{study});
  EXPECT_EQ(objects_of(moved->message, "2"), std::vector<std::string>{patient_id});
  const Seen* ordered = find_event(seen, "110109", "C");
  ASSERT_TRUE(ordered) << "ORM NW: Order Record, create";
  EXPECT_EQ(objects_of(ordered->message, "2"), std::vector<std::string>{"AUDPAT"});
  EXPECT_TRUE(find_event(seen, "110100", "E") && seen.back().type == "110121");

  // The local log holds every message too, and no patient name anywhere.
  const std::string local = testing::read_all(node.data_dir() / "audit.log");
  std::size_t lines = 0;
  for (char c : local) lines += c == '\n';
  EXPECT_EQ(lines, collector.messages().size());
  ASSERT_FALSE(patient_name.empty());
  EXPECT_EQ(local.find(patient_name), std::string::npos);
}

TEST(AuditTest, AFailedLoginIsAuditedAndTlsCollectorsGetOctetCountedFrames) {
  testing::TlsFiles files;
  security::TlsSettings server;
  server.certificate = files.server_certificate();
  server.private_key = files.server_key();
  Collector collector(*security::make_server_context(server));
  auto flags = files.node_flags();
  flags.insert(flags.end(),
               {"--audit-syslog", "tls://127.0.0.1:" + std::to_string(collector.port()),
                "--api-token", "ops:admin:sha256$" + std::string(64, '0')});
  TestNode node({.db = "sqlite", .extra_flags = flags});
  node.start();
  EXPECT_EQ(testing::http_request(node.http_port(), "GET", "/dicom-web/studies",
                                  {"Authorization: Bearer wrong"})
                .status,
            401);
  ASSERT_TRUE(collector.wait_for("110114")) << node.log();
  const auto seen = events(collector.messages());
  const Seen* login = find_event(seen, "110114", "E");
  ASSERT_TRUE(login);
  EXPECT_EQ(login->outcome, "4");
  EXPECT_EQ(login->type, "110122");
  EXPECT_EQ(login->message.get<std::string>("EventIdentification.EventOutcomeDescription"),
            "unknown API token");
  EXPECT_EQ(login->message.get<std::string>("ActiveParticipant.<xmlattr>.NetworkAccessPointID"),
            "127.0.0.1");
}

}  // namespace
}  // namespace pacs
