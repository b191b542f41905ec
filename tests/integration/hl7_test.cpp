// The HL7 face over a real MLLP socket against the real node, for both index backends: orders
// become Modality Worklist items (checked with DCMTK's findscu -W), changes and cancellations
// follow, each message is applied once, and broken input gets an AR/AE or a closed connection.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "storage/dicom_attributes.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/mllp.h"
#include "tests/support/mpps_scu.h"
#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::MllpClient;
using testing::Order;
using testing::orm;
using testing::segment;
using testing::TestNode;
namespace json = boost::json;

// The ERR segment's HL7 error code (ERR-3.1 in 2.5, the 4th component of ERR-1 before).
std::string err_code(const std::string& ack) {
  std::smatch m;
  if (std::regex_search(ack, m, std::regex("ERR\\|\\|[^|]*\\|([0-9]+)"))) return m[1].str();
  if (std::regex_search(ack, m, std::regex("ERR\\|[^^|]*\\^[^^|]*\\^[^^|]*\\^([0-9]+)")))
    return m[1].str();
  return {};
}

class Hl7Test : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string url;
    PACS_REQUIRE_BACKEND(GetParam(), url);
    url_ = url;
    node_ = std::make_unique<TestNode>(
        TestNode::Options{.db = url, .extra_flags = {"--worklist-station-aet", "CT=CT01"}});
    node_->start();
  }

  std::string send(const std::string& message) {
    MllpClient client(node_->mllp_port());
    auto ack = client.exchange(message);
    EXPECT_TRUE(ack.has_value()) << "no acknowledgement";
    return ack.value_or("");
  }

  // findscu -W: every response as a dataset.
  std::vector<std::unique_ptr<DcmFileFormat>> worklist(std::vector<std::string> keys) {
    const auto out = dir_.path() / ("mwl" + std::to_string(counter_++));
    fs::create_directories(out);
    auto r =
        testing::run_dcmtk_tool({"findscu", "-W", "-aec", "PACSNODE", "-X", "-od", out.string()},
                                keys, node_->dimse_port());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::unique_ptr<DcmFileFormat>> responses;
    for (const auto& f : testing::files_below(out)) {
      auto ff = std::make_unique<DcmFileFormat>();
      EXPECT_TRUE(ff->loadFile(f.c_str()).good());
      responses.push_back(std::move(ff));
    }
    return responses;
  }

  std::size_t worklist_count(const std::vector<std::string>& keys) { return worklist(keys).size(); }

  // The worklist items in the index (every status), counted per accession number.
  std::map<std::string, int> items_by_accession() {
    auto index = node_->open_index();
    std::map<std::string, int> out;
    FindQuery all;
    all.level = Level::Worklist;
    all.conditions.push_back({Column::ScheduledStepStatus, Condition::Kind::Wildcard, {"*"}});
    auto listed = index->find(all, 0, [&](const FindRow& row) {
      DcmDataset item;
      EXPECT_TRUE(decode_attributes(row.patient_attributes, item).has_value());
      OFString accession;
      item.findAndGetOFString(DCM_AccessionNumber, accession);
      ++out[accession.c_str()];
      return true;
    });
    EXPECT_TRUE(listed.has_value());
    return out;
  }

  std::string url_;
  std::unique_ptr<TestNode> node_;
  testing::TempDir dir_;
  int counter_ = 0;
};

std::string text_of(DcmItem& item, const DcmTagKey& tag) {
  OFString v;
  item.findAndGetOFStringArray(tag, v);
  return v.c_str();
}

std::string step_text(DcmItem& item, const DcmTagKey& tag) {
  DcmItem* step = nullptr;
  if (item.findAndGetSequenceItem(DCM_ScheduledProcedureStepSequence, step, 0).bad() || !step)
    return "<no step>";
  return text_of(*step, tag);
}

const std::vector<std::string> kMappedKeys = {
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "ReferringPhysicianName",
    "AccessionNumber",
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "StudyInstanceUID",
    "PlacerOrderNumberImagingServiceRequest",
    "FillerOrderNumberImagingServiceRequest",
    "RequestedProcedurePriority",
    "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime",
    "ScheduledProcedureStepSequence[0].Modality",
    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepID",
    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription",
    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus",
};

TEST_P(Hl7Test, AnOrderBecomesAWorklistItemFollowsChangesAndLeavesOnCancel) {
  const std::string uid = "1.2.826.0.1.3680043.9.7136.1.1";
  Order o{.control_id = "RIS0001",
          .placer = "PL1001",
          .filler = "FL2001",
          .accession = "ACC0001",
          .study_uid = uid};
  const std::string ack = send(orm(o));
  ASSERT_EQ(testing::ack_code(ack), "AA") << ack << node_->log();
  EXPECT_EQ(testing::ack_control_id(ack), "RIS0001");
  EXPECT_NE(ack.find("ACK^O01"), std::string::npos) << ack;

  auto items = worklist(kMappedKeys);
  ASSERT_EQ(items.size(), 1u) << node_->log();
  DcmDataset& item = *items[0]->getDataset();
  EXPECT_EQ(text_of(item, DCM_PatientName), "Doe^Jane^A^Mrs");  // XPN prefix/suffix swapped
  EXPECT_EQ(text_of(item, DCM_PatientID), "P12345");
  EXPECT_EQ(text_of(item, DCM_IssuerOfPatientID), "HOSP");
  EXPECT_EQ(text_of(item, DCM_PatientBirthDate), "19700101");
  EXPECT_EQ(text_of(item, DCM_PatientSex), "F");
  EXPECT_EQ(text_of(item, DCM_ReferringPhysicianName), "Smith^John^^Dr");
  EXPECT_EQ(text_of(item, DCM_AccessionNumber), "ACC0001");
  EXPECT_EQ(text_of(item, DCM_RequestedProcedureID), "RPACC0001");
  EXPECT_EQ(text_of(item, DCM_RequestedProcedureDescription), "CT head");
  EXPECT_EQ(text_of(item, DCM_StudyInstanceUID), uid);
  EXPECT_EQ(text_of(item, DCM_PlacerOrderNumberImagingServiceRequest), "PL1001");
  EXPECT_EQ(text_of(item, DCM_FillerOrderNumberImagingServiceRequest), "FL2001");
  EXPECT_EQ(text_of(item, DCM_RequestedProcedurePriority), "ROUTINE");
  EXPECT_EQ(step_text(item, DCM_ScheduledStationAETitle), "CT01");
  EXPECT_EQ(step_text(item, DCM_ScheduledProcedureStepStartDate), "20261124");
  EXPECT_EQ(step_text(item, DCM_ScheduledProcedureStepStartTime), "100000");
  EXPECT_EQ(step_text(item, DCM_Modality), "CT");
  EXPECT_EQ(step_text(item, DCM_ScheduledProcedureStepID), "SPSACC0001");
  EXPECT_EQ(step_text(item, DCM_ScheduledProcedureStepDescription), "Head standard");
  EXPECT_EQ(step_text(item, DCM_ScheduledProcedureStepStatus), "SCHEDULED");
  EXPECT_FALSE(item.tagExists(DCM_QueryRetrieveLevel)) << "worklist answers have no level";

  // The worklist matching keys of a modality's query.
  const std::string sps = "ScheduledProcedureStepSequence[0].";
  EXPECT_EQ(worklist_count({sps + "Modality=CT"}), 1u);
  EXPECT_EQ(worklist_count({sps + "Modality=MR"}), 0u);
  EXPECT_EQ(worklist_count({sps + "ScheduledStationAETitle=CT01"}), 1u);
  EXPECT_EQ(worklist_count({sps + "ScheduledStationAETitle=XR01"}), 0u);
  EXPECT_EQ(worklist_count({sps + "ScheduledProcedureStepStartDate=20261124-20261125"}), 1u);
  EXPECT_EQ(worklist_count({sps + "ScheduledProcedureStepStartDate=20261125-"}), 0u);
  EXPECT_EQ(worklist_count({"PatientName=doe*"}), 1u) << "names match case-insensitively";
  EXPECT_EQ(worklist_count({"PatientName=Roe*"}), 0u);
  EXPECT_EQ(worklist_count({"PatientID=P12345", "AccessionNumber=ACC0001"}), 1u);
  EXPECT_EQ(worklist_count({"AccessionNumber=ACC0002"}), 0u);

  // The same message again: acknowledged as before, not applied twice.
  const std::string again = send(orm(o));
  EXPECT_EQ(testing::ack_code(again), "AA");
  EXPECT_EQ(again, ack) << "the recorded acknowledgement is sent again";
  EXPECT_EQ(worklist_count({"AccessionNumber=ACC0001"}), 1u);

  // XO moves the step; the order keeps one item.
  Order moved = o;
  moved.control_id = "RIS0002";
  moved.order_control = "XO";
  moved.start = "20261126083000";
  ASSERT_EQ(testing::ack_code(send(orm(moved))), "AA");
  auto after = worklist({"AccessionNumber=ACC0001", sps + "ScheduledProcedureStepStartDate"});
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(step_text(*after[0]->getDataset(), DCM_ScheduledProcedureStepStartDate), "20261126");

  // SC with IP: the step is STARTED, still on the worklist.
  Order started = o;
  started.control_id = "RIS0003";
  started.order_control = "SC";
  started.order_status = "IP";
  ASSERT_EQ(testing::ack_code(send(orm(started))), "AA");
  auto in_progress = worklist({"AccessionNumber=ACC0001", sps + "ScheduledProcedureStepStatus"});
  ASSERT_EQ(in_progress.size(), 1u);
  EXPECT_EQ(step_text(*in_progress[0]->getDataset(), DCM_ScheduledProcedureStepStatus), "STARTED");

  // CA: the item leaves the worklist.
  Order cancel = o;
  cancel.control_id = "RIS0004";
  cancel.order_control = "CA";
  ASSERT_EQ(testing::ack_code(send(orm(cancel))), "AA");
  EXPECT_EQ(worklist_count({"AccessionNumber=ACC0001"}), 0u);

  // A cancel for an order nobody placed: AE, unknown key (204).
  Order unknown = cancel;
  unknown.control_id = "RIS0005";
  unknown.placer = "PL9999";
  unknown.filler = "FL9999";
  const std::string ae = send(orm(unknown));
  EXPECT_EQ(testing::ack_code(ae), "AE") << ae;
  EXPECT_EQ(err_code(ae), "204") << ae;
}

// The web UI's worklist and message log: the same worklist as Modality Worklist serves, and
// every message processed with the ACK it got, by control ID.
TEST_P(Hl7Test, TheWorklistAndTheMessageLogAreServedAsJson) {
  Order o{.control_id = "RIS0042", .placer = "PL42", .filler = "FL42", .accession = "ACC42"};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  // A cancel of an order nobody placed: AE (unknown key), logged with its ACK.
  Order unknown{.control_id = "RIS0043", .order_control = "CA", .placer = "PL99", .filler = "FL99"};
  ASSERT_EQ(testing::ack_code(send(orm(unknown))), "AE");
  auto get = [&](const std::string& path) {
    return testing::http_request(node_->http_port(), "GET", path, {});
  };
  const auto worklist = get("/api/worklist?modality=CT");
  ASSERT_EQ(worklist.status, 200) << worklist.body;
  EXPECT_EQ(worklist.header("content-type"), "application/dicom+json");
  const auto items = testing::parse_json(worklist.body).as_array();
  ASSERT_EQ(items.size(), 1u) << worklist.body;
  // DICOM JSON: AccessionNumber (0008,0050).
  EXPECT_EQ(items[0].at("00080050").at("Value").as_array()[0].as_string(), "ACC42");
  EXPECT_EQ(testing::parse_json(get("/api/worklist?modality=MR").body).as_array().size(), 0u);
  EXPECT_EQ(get("/api/worklist?limit=0").status, 400);

  const auto all = testing::parse_json(get("/api/hl7/messages").body).as_array();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].at("controlId").as_string(), "RIS0043") << "newest first";
  EXPECT_EQ(all[0].at("ackCode").as_string(), "AE");
  const auto one = testing::parse_json(get("/api/hl7/messages?controlId=RIS0042").body).as_array();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].at("ackCode").as_string(), "AA");
  EXPECT_NE(std::string(one[0].at("ack").as_string()).find("MSA|AA|RIS0042"), std::string::npos);
  EXPECT_EQ(get("/api/hl7/messages?controlId=NONE").body, "[]\n");
}

// An outbound message that cannot be delivered waits for its next attempt; an operator's retry
// makes it due at once. Only unsent items can be retried.
TEST_P(Hl7Test, AnOutboxItemCanBeRetriedByHand) {
  TestNode node(
      {.db = url_,
       .extra_flags = {"--hl7-destination", "EHR=127.0.0.1:" + std::to_string(testing::free_port()),
                       "--study-quiet-seconds", "1"}});
  node.start();
  const auto files = testing::generate_corpus(
      dir_.path() / "retry", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "1", "--rows", "16", "--columns", "16"});
  ASSERT_EQ(testing::storescu(node.dimse_port(), {(dir_.path() / "retry").string()}).exit_code, 0);
  std::int64_t id = -1;
  // Bounded: the study completes after a second of quiet; the first delivery then fails.
  for (int i = 0; i < 100 && id < 0; ++i) {
    const auto items =
        testing::parse_json(testing::http_request(node.http_port(), "GET", "/api/outbox", {}).body)
            .as_array();
    for (const auto& item : items)
      if (item.at("attempts").as_int64() > 0) id = item.at("id").as_int64();
    if (id < 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_GE(id, 0) << node.log();
  auto post = [&](const std::string& path) {
    return testing::http_request(node.http_port(), "POST", path, {});
  };
  const auto retried = post("/api/outbox/" + std::to_string(id) + "/retry");
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_NE(retried.body.find("\"state\":\"pending\""), std::string::npos);
  EXPECT_EQ(post("/api/outbox/999999/retry").status, 404);
  EXPECT_EQ(post("/api/outbox/x1/retry").status, 400);
  EXPECT_EQ(testing::http_request(node.http_port(), "GET",
                                  "/api/outbox/" + std::to_string(id) + "/retry", {})
                .status,
            405);
}

TEST_P(Hl7Test, OmiOrdersScheduleEveryStepAndAGeneratedStudyUidStays) {
  // OMI^O23 v2.5.1: two IPC segments, two scheduled steps, station AE from IPC-9.
  const std::string omi = testing::hl7_message(
      {"MSH|^~\\&|RIS|HOSP|PACSNODE|RAD|20261124093000||OMI^O23^OMI_O23|RIS0100|P|2.5.1||||||"
       "UNICODE UTF-8",
       "PID|1||P777^^^HOSP^MR||M\xC3\xBCller^J\xC3\xBCrgen||19601231|M",
       "ORC|NW|PL3001^EHR|FL4001^RIS", "TQ1|1||||||20261124120000||S",
       "OBR|1|PL3001^EHR|FL4001^RIS|MRKNEE^MR knee^L",
       "IPC|ACC3001^RIS|RP3001|1.2.826.0.1.3680043.9.7136.2.1|SPS3001|MR|KNEE^Knee "
       "routine^99PROT|MR1|MR1 room|MRI01",
       "IPC|ACC3001^RIS|RP3001|1.2.826.0.1.3680043.9.7136.2.1|SPS3002|MR|KNEEC^Knee "
       "contrast^99PROT|MR1|MR1 room|MRI01"});
  ASSERT_EQ(testing::ack_code(send(omi)), "AA") << node_->log();
  const std::string sps = "ScheduledProcedureStepSequence[0].";
  auto items = worklist({"AccessionNumber=ACC3001", "PatientName", "RequestedProcedurePriority",
                         sps + "ScheduledStationAETitle=MRI01", sps + "ScheduledProcedureStepID",
                         "SpecificCharacterSet"});
  ASSERT_EQ(items.size(), 2u) << node_->log();
  std::set<std::string> steps;
  for (auto& i : items) {
    steps.insert(step_text(*i->getDataset(), DCM_ScheduledProcedureStepID));
    EXPECT_EQ(text_of(*i->getDataset(), DCM_RequestedProcedurePriority), "STAT");
  }
  EXPECT_EQ(steps, (std::set<std::string>{"SPS3001", "SPS3002"}));
  // UTF-8 names come back in UTF-8, saying so.
  EXPECT_EQ(text_of(*items[0]->getDataset(), DCM_SpecificCharacterSet), "ISO_IR 192");
  EXPECT_EQ(text_of(*items[0]->getDataset(), DCM_PatientName), "M\xC3\xBCller^J\xC3\xBCrgen");

  // An ORM without ZDS: a Study Instance UID is generated once and kept across changes.
  Order o{.control_id = "RIS0200", .placer = "PL5001", .filler = "FL6001", .accession = "ACC5001"};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  auto first = worklist({"AccessionNumber=ACC5001", "StudyInstanceUID"});
  ASSERT_EQ(first.size(), 1u);
  const std::string generated = text_of(*first[0]->getDataset(), DCM_StudyInstanceUID);
  EXPECT_FALSE(generated.empty());
  o.control_id = "RIS0201";
  o.order_control = "XO";
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  auto second = worklist({"AccessionNumber=ACC5001", "StudyInstanceUID"});
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(text_of(*second[0]->getDataset(), DCM_StudyInstanceUID), generated);
}

TEST_P(Hl7Test, BadInputGetsARejectOrAClosedConnectionAndTheListenerServesOn) {
  const std::string msh_tail = "|RIS|HOSP|PACSNODE|RAD|20261124093000||ORM^O01|";
  struct Case {
    std::string name, message, code, err;
  };
  Order valid{.control_id = "X", .placer = "PL7001", .filler = "FL7001", .accession = "ACC7001"};
  Order no_accession = valid;
  no_accession.control_id = "BAD0005";
  no_accession.accession = "";
  Order long_accession = valid;
  long_accession.control_id = "BAD0006";
  long_accession.accession = "ACC70010000000000";  // 17 characters: over SH
  Order future_version = valid;
  future_version.control_id = "BAD0007";
  future_version.version = "2.9";
  const std::vector<Case> cases = {
      {"no MSH", "PID|1||P1^^^HOSP^MR\r", "AR", "100"},
      {"duplicate encoding characters", "MSH|^^\\&" + msh_tail + "BAD0002|P|2.3.1\r", "AR", "100"},
      {"unknown message type",
       "MSH|^~\\&|RIS|HOSP|PACSNODE|RAD|20261124093000||XYZ^Z01|BAD0003|P|2.5.1\r", "AR", "200"},
      {"unknown processing ID", "MSH|^~\\&" + msh_tail + "BAD0004|Q|2.3.1\r", "AR", "202"},
      {"accession number missing", orm(no_accession), "AE", "101"},
      {"accession number too long", orm(long_accession), "AE", "102"},
      {"unsupported version", orm(future_version), "AR", "203"},
  };
  for (const Case& c : cases) {
    const std::string ack = send(c.message);
    EXPECT_EQ(testing::ack_code(ack), c.code) << c.name << ": " << ack;
    EXPECT_EQ(err_code(ack), c.err) << c.name << ": " << ack;
  }

  // A frame cut off by a closed connection: no answer, nothing applied.
  Order truncated = valid;
  truncated.control_id = "BAD0010";
  truncated.accession = "ACC7010";
  {
    MllpClient client(node_->mllp_port());
    const std::string whole = orm(truncated);
    ASSERT_TRUE(client.send_raw("\x0b" + whole.substr(0, whole.size() / 2)));
  }
  // Over the size limit (1 MB by default): the node closes without answering.
  {
    MllpClient client(node_->mllp_port());
    Order big = valid;
    big.control_id = "BAD0011";
    big.accession = "ACC7011";
    std::string message = orm(big);
    message += "NTE|1||" + std::string(2 << 20, 'x') + "\r";
    client.send_raw("\x0b" + message + "\x1c\r");
    EXPECT_TRUE(client.closed_by_peer(std::chrono::seconds(10)));
  }
  // Random bytes, framing bytes among them: an AR or nothing, never a crash.
  {
    std::mt19937 random(20261126);
    std::string noise(64 * 1024, '\0');
    for (char& ch : noise) ch = static_cast<char>(random() % 256);
    MllpClient client(node_->mllp_port());
    client.send_raw(noise);
    client.send_raw("\x1c\r");
    // Bounded: frames the noise happened to complete, until none comes.
    for (int i = 0; i < 1000; ++i) {
      auto answer = client.read_frame(std::chrono::milliseconds(500));
      if (!answer) break;
      EXPECT_EQ(testing::ack_code(*answer), "AR") << *answer;
    }
  }
  // Garbage before the start block is skipped; the message after it is served.
  MllpClient client(node_->mllp_port());
  valid.control_id = "GOOD0001";
  ASSERT_TRUE(client.send_raw("garbage before the frame\r\n"));
  auto good = client.exchange(orm(valid));
  ASSERT_TRUE(good.has_value()) << node_->log();
  EXPECT_EQ(testing::ack_code(*good), "AA") << *good;
  EXPECT_TRUE(node_->running());

  const auto items = items_by_accession();
  EXPECT_EQ(items.count("ACC7010"), 0u) << "the truncated message was applied";
  EXPECT_EQ(items.count("ACC7011"), 0u) << "the oversize message was applied";
  EXPECT_EQ(items.size(), 1u) << "only the good order is on the worklist";
}

// Orders go in over MLLP while the node is killed (SIGKILL) and restarted: every acknowledged
// order is there exactly once, and sending every message again applies none twice.
// An HL7 flood: eight connections sending orders as fast as each ACK comes. Every order is
// answered AA and scheduled exactly once, and the node serves on.
TEST_P(Hl7Test, AFloodOnEightConnectionsIsAnsweredInFullAndAppliedOnce) {
  constexpr int kConnections = 8, kPerConnection = 150;
  std::atomic<int> accepted{0}, other{0};
  std::vector<std::thread> senders;
  for (int c = 0; c < kConnections; ++c)
    senders.emplace_back([&, c] {
      testing::MllpClient client(node_->mllp_port());
      for (int i = 0; i < kPerConnection; ++i) {
        const std::string n = std::to_string(c) + "-" + std::to_string(i);
        const testing::Order order{.control_id = "FLOOD" + n,
                                   .placer = "FLP" + n,
                                   .filler = "FLF" + n,
                                   .accession = "FLA" + n};
        const auto ack = client.exchange(testing::orm(order));
        (testing::ack_code(ack.value_or("")) == "AA" ? accepted : other)++;
      }
    });
  for (auto& sender : senders) sender.join();
  EXPECT_EQ(accepted, kConnections * kPerConnection);
  EXPECT_EQ(other, 0);
  const auto items = items_by_accession();
  int flood_items = 0;
  for (const auto& [accession, count] : items)
    if (accession.rfind("FLA", 0) == 0) {
      ++flood_items;
      EXPECT_EQ(count, 1) << accession;
    }
  EXPECT_EQ(flood_items, kConnections * kPerConnection);
  EXPECT_TRUE(node_->running());
}

TEST_P(Hl7Test, NoAcknowledgedOrderIsLostOrAppliedTwiceAcrossAKill) {
  std::vector<std::string> messages;
  for (int i = 0; i < 400; ++i) {
    char accession[16];
    std::snprintf(accession, sizeof accession, "K%05d", i);
    Order o{.control_id = std::string("KILL") + accession,
            .placer = std::string("PL") + accession,
            .filler = std::string("FL") + accession,
            .accession = accession};
    messages.push_back(orm(o));
  }
  std::set<std::string> acknowledged;
  for (int round = 0; round < 2; ++round) {
    std::atomic<bool> stop{false};
    std::thread sender([&] {
      std::unique_ptr<MllpClient> client;
      for (std::size_t i = 0; i < messages.size() && !stop; ++i) {
        try {
          if (!client) client = std::make_unique<MllpClient>(node_->mllp_port());
        } catch (const std::exception&) {
          return;
        }
        auto ack = client->exchange(messages[i], std::chrono::seconds(5));
        if (!ack) return;
        if (testing::ack_code(*ack) == "AA") acknowledged.insert(testing::ack_control_id(*ack));
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 200 * round));
    node_->kill_hard();
    stop = true;
    sender.join();
    node_->start();
  }
  ASSERT_FALSE(acknowledged.empty()) << node_->log();
  auto items = items_by_accession();
  for (const std::string& control_id : acknowledged) {
    const std::string accession = control_id.substr(4);
    EXPECT_EQ(items[accession], 1) << control_id << " acknowledged but not on the worklist once";
  }
  // Everything again, on one connection: every message AA, and each order once.
  MllpClient client(node_->mllp_port());
  for (const auto& m : messages) {
    auto ack = client.exchange(m);
    ASSERT_TRUE(ack.has_value());
    EXPECT_EQ(testing::ack_code(*ack), "AA") << *ack;
  }
  items = items_by_accession();
  EXPECT_EQ(items.size(), messages.size());
  for (const auto& [accession, count] : items) EXPECT_EQ(count, 1) << accession;
}

// A study of two instances for one patient, stored over C-STORE; returns the files.
std::vector<fs::path> store_study_of(TestNode& node, const fs::path& dir, const std::string& id,
                                     const std::string& name, int seed,
                                     const std::string& accession = "",
                                     const std::string& issuer = "",
                                     const std::string& calling_aet = "STORESCU") {
  auto files = testing::generate_corpus(
      dir, {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "2", "--rows",
            "16", "--columns", "16", "--seed", std::to_string(seed)});
  for (const auto& f : files) {
    DcmFileFormat ff;
    EXPECT_TRUE(ff.loadFile(f.c_str()).good());
    ff.getDataset()->putAndInsertString(DCM_PatientID, id.c_str());
    ff.getDataset()->putAndInsertString(DCM_PatientName, name.c_str());
    ff.getDataset()->putAndInsertString(DCM_PatientBirthDate, "19700101");
    ff.getDataset()->putAndInsertString(DCM_PatientSex, "F");
    if (!accession.empty())
      ff.getDataset()->putAndInsertString(DCM_AccessionNumber, accession.c_str());
    if (!issuer.empty()) ff.getDataset()->putAndInsertString(DCM_IssuerOfPatientID, issuer.c_str());
    EXPECT_TRUE(ff.saveFile(f.c_str(), EXS_LittleEndianExplicit).good());
  }
  EXPECT_EQ(testing::storescu(node.dimse_port(), {dir.string()}, "PACSNODE", calling_aet).exit_code,
            0)
      << node.log();
  return files;
}

std::string adt(const std::string& trigger, const std::string& control_id, const std::string& pid,
                const std::string& mrg = {}) {
  std::string out = "MSH|^~\\&|ADT|HOSP|PACSNODE|RAD|20261124093000||ADT^" + trigger + "^ADT_A" +
                    (trigger == "A40" ? "39" : "01") + "|" + control_id + "|P|2.5.1\r" + "EVN|" +
                    trigger + "|20261124093000\r" + pid + "\r";
  if (!mrg.empty()) out += mrg + "\r";
  return out;
}

// C-FIND (Study Root, STUDY level) answers for a patient: PatientName of each study.
std::vector<std::string> names_in_cfind(TestNode& node, const fs::path& dir,
                                        const std::string& patient_id) {
  fs::create_directories(dir);
  auto r = testing::run_dcmtk_tool({"findscu", "-S", "-aec", "PACSNODE", "-X", "-od", dir.string()},
                                   {"QueryRetrieveLevel=STUDY", "PatientID=" + patient_id,
                                    "PatientName", "PatientBirthDate", "StudyInstanceUID"},
                                   node.dimse_port());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> names;
  for (const auto& f : testing::files_below(dir))
    names.push_back(testing::value_of(f, DCM_PatientName));
  return names;
}

TEST_P(Hl7Test, AnA08UpdatesThePatientInEveryAnswerAndEveryRetrievedObject) {
  const auto files = store_study_of(*node_, dir_.path() / "study", "P12345", "Doe^Jane", 1);
  const std::string study = testing::value_of(files[0], DCM_StudyInstanceUID);
  Order o{.control_id = "ORD0001", .placer = "PL1", .filler = "FL1", .accession = "ACC1"};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");

  // A08: new name and birth date; sex cleared with HL7's null; PID-3.4 names the issuer.
  const std::string ack =
      send(adt("A08", "ADT0001", "PID|1||P12345^^^HOSP^MR||Roe^Janet^^^Dr||19710202|\"\""));
  ASSERT_EQ(testing::ack_code(ack), "AA") << ack << node_->log();

  EXPECT_EQ(names_in_cfind(*node_, dir_.path() / "find1", "P12345"),
            std::vector<std::string>{"Roe^Janet^^Dr"});
  auto items = worklist({"PatientID=P12345", "PatientName", "PatientBirthDate", "PatientSex"});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(text_of(*items[0]->getDataset(), DCM_PatientName), "Roe^Janet^^Dr");
  EXPECT_EQ(text_of(*items[0]->getDataset(), DCM_PatientBirthDate), "19710202");
  EXPECT_EQ(text_of(*items[0]->getDataset(), DCM_PatientSex), "");

  // C-GET: the objects carry the new values and keep the old ones in Original Attributes.
  const auto got = dir_.path() / "get";
  fs::create_directories(got);
  auto r = testing::run_dcmtk_tool({"getscu", "-S", "-aec", "PACSNODE", "-od", got.string()},
                                   {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study},
                                   node_->dimse_port());
  const auto retrieved = testing::files_below(got);
  ASSERT_EQ(retrieved.size(), 2u) << r.output;
  for (const auto& f : retrieved) {
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(f.c_str()).good());
    DcmDataset& ds = *ff.getDataset();
    EXPECT_EQ(text_of(ds, DCM_PatientName), "Roe^Janet^^Dr");
    EXPECT_EQ(text_of(ds, DCM_PatientBirthDate), "19710202");
    DcmItem* original = nullptr;
    ASSERT_TRUE(ds.findAndGetSequenceItem(DCM_OriginalAttributesSequence, original, 0).good());
    DcmItem* modified = nullptr;
    ASSERT_TRUE(
        original->findAndGetSequenceItem(DCM_ModifiedAttributesSequence, modified, 0).good());
    EXPECT_EQ(text_of(*modified, DCM_PatientName), "Doe^Jane");
    EXPECT_EQ(text_of(*modified, DCM_PatientBirthDate), "19700101");
  }
  // QIDO-RS and WADO-RS answer with the new values too.
  const auto qido =
      testing::http_request(node_->http_port(), "GET", "/dicom-web/studies?PatientID=P12345", {});
  EXPECT_NE(qido.body.find("Roe^Janet^^Dr"), std::string::npos) << qido.body;
  const auto metadata = testing::http_request(node_->http_port(), "GET",
                                              "/dicom-web/studies/" + study + "/metadata", {});
  EXPECT_NE(metadata.body.find("Roe^Janet^^Dr"), std::string::npos);
  const auto wado =
      testing::http_request(node_->http_port(), "GET", "/dicom-web/studies/" + study, {});
  std::string why;
  const auto parts = testing::parse_multipart_strict(
      wado.body, testing::boundary_of(wado.header("content-type")), why);
  ASSERT_TRUE(parts) << why;
  ASSERT_EQ(parts->size(), 2u);
  for (const auto& part : *parts) {
    const auto file = dir_.path() / "part.dcm";
    testing::write_all(file, part.body);
    EXPECT_EQ(testing::value_of(file, DCM_PatientName), "Roe^Janet^^Dr");
  }
  // The stored files keep the bytes that arrived.
  std::size_t stored = 0;
  for (const auto& f : testing::files_below(node_->data_dir() / "objects")) {
    EXPECT_EQ(testing::value_of(f, DCM_PatientName), "Doe^Jane");
    ++stored;
  }
  EXPECT_EQ(stored, 2u);
  // A patient nobody knows: nothing to change, and nothing goes wrong.
  EXPECT_EQ(testing::ack_code(send(adt("A08", "ADT0002", "PID|1||NOBODY^^^HOSP^MR||X^Y"))), "AA");
}

TEST_P(Hl7Test, AnA40MergesThePriorPatientsStudiesAndOrdersIntoTheSurvivingOne) {
  store_study_of(*node_, dir_.path() / "a", "PA", "Doe^Jane", 2);
  store_study_of(*node_, dir_.path() / "b", "PB", "Doe^Jane", 3);
  Order o{.control_id = "ORD0002",
          .placer = "PL2",
          .filler = "FL2",
          .accession = "ACC2",
          .patient_id = "PA"};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");

  const std::string ack =
      send(adt("A40", "ADT0010", "PID|1||PB^^^HOSP^MR||Doe^Jane^Q", "MRG|PA^^^HOSP^MR"));
  ASSERT_EQ(testing::ack_code(ack), "AA") << ack << node_->log();
  EXPECT_EQ(names_in_cfind(*node_, dir_.path() / "f1", "PB").size(), 2u) << "both studies";
  EXPECT_TRUE(names_in_cfind(*node_, dir_.path() / "f2", "PA").empty()) << "PA is gone";
  // Patient level: one patient with two studies.
  const auto pdir = dir_.path() / "patients";
  fs::create_directories(pdir);
  auto r = testing::run_dcmtk_tool(
      {"findscu", "-P", "-aec", "PACSNODE", "-X", "-od", pdir.string()},
      {"QueryRetrieveLevel=PATIENT", "PatientID=P*", "NumberOfPatientRelatedStudies"},
      node_->dimse_port());
  const auto patients = testing::files_below(pdir);
  ASSERT_EQ(patients.size(), 1u) << r.output;
  EXPECT_EQ(testing::value_of(patients[0], DCM_PatientID), "PB");
  EXPECT_EQ(testing::value_of(patients[0], DCM_NumberOfPatientRelatedStudies), "2");
  EXPECT_EQ(worklist_count({"PatientID=PB", "AccessionNumber=ACC2"}), 1u) << "the order moved";
  EXPECT_EQ(worklist_count({"PatientID=PA"}), 0u);

  // Merging a patient nobody knows, or a patient into itself: AE.
  const std::string unknown = send(adt("A40", "ADT0011", "PID|1||PB^^^HOSP^MR", "MRG|PX^^^HOSP"));
  EXPECT_EQ(testing::ack_code(unknown), "AE") << unknown;
  EXPECT_EQ(err_code(unknown), "204") << unknown;
  const std::string self = send(adt("A40", "ADT0012", "PID|1||PB^^^HOSP^MR", "MRG|PB^^^HOSP^MR"));
  EXPECT_EQ(testing::ack_code(self), "AE") << self;
}

// The bytes of each object of a study as WADO-RS returns them, sorted.
std::vector<std::string> retrieved_bytes(TestNode& node, const std::string& study) {
  const auto wado =
      testing::http_request(node.http_port(), "GET", "/dicom-web/studies/" + study, {});
  EXPECT_EQ(wado.status, 200) << wado.body;
  std::string why;
  const auto parts = testing::parse_multipart_strict(
      wado.body, testing::boundary_of(wado.header("content-type")), why);
  EXPECT_TRUE(parts) << why;
  std::vector<std::string> out;
  if (parts)
    for (const auto& part : *parts) out.push_back(part.body);
  std::sort(out.begin(), out.end());
  return out;
}

// The objects of a study as WADO-RS returns them.
std::vector<std::unique_ptr<DcmFileFormat>> wado_study(TestNode& node, const fs::path& scratch,
                                                       const std::string& study) {
  std::vector<std::unique_ptr<DcmFileFormat>> out;
  for (const auto& bytes : retrieved_bytes(node, study)) {
    testing::write_all(scratch, bytes);
    auto ff = std::make_unique<DcmFileFormat>();
    EXPECT_TRUE(ff->loadFile(scratch.c_str()).good());
    out.push_back(std::move(ff));
  }
  return out;
}

// The acquired value of an attribute an object's coercion replaced ("" if none was replaced).
std::string original_value(DcmItem& ds, const DcmTagKey& tag) {
  DcmItem* original = nullptr;
  DcmItem* modified = nullptr;
  if (ds.findAndGetSequenceItem(DCM_OriginalAttributesSequence, original, 0).bad() ||
      original->findAndGetSequenceItem(DCM_ModifiedAttributesSequence, modified, 0).bad())
    return {};
  return text_of(*modified, tag);
}

std::string link_state(TestNode& node, const std::string& study) {
  const auto listed = testing::http_request(node.http_port(), "GET", "/api/reconciliation", {});
  const json::value links = testing::parse_json(listed.body);
  for (const auto& v : links.as_array())
    if (v.at("studyInstanceUID").as_string() == study)
      return std::string(v.at("state").as_string());
  return "<not listed>";
}

// Patient level C-FIND: each patient's NumberOfPatientRelatedStudies, by Patient ID.
std::map<std::string, std::string> studies_per_patient(TestNode& node, const fs::path& dir) {
  fs::create_directories(dir);
  auto r = testing::run_dcmtk_tool(
      {"findscu", "-P", "-aec", "PACSNODE", "-X", "-od", dir.string()},
      {"QueryRetrieveLevel=PATIENT", "PatientID=*", "NumberOfPatientRelatedStudies"},
      node.dimse_port());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::map<std::string, std::string> out;
  for (const auto& f : testing::files_below(dir))
    out[testing::value_of(f, DCM_PatientID)] =
        testing::value_of(f, DCM_NumberOfPatientRelatedStudies);
  return out;
}

json::value merge_journal(TestNode& node) {
  const auto listed = testing::http_request(node.http_port(), "GET", "/api/patients/merges", {});
  EXPECT_EQ(listed.status, 200) << listed.body;
  return testing::parse_json(listed.body);
}

testing::HttpResponse undo_merge(TestNode& node, std::int64_t id) {
  return testing::http_request(node.http_port(), "POST",
                               "/api/patients/merges/" + std::to_string(id) + "/undo", {});
}

// A merge is applied once: an A40 sent again under a new control ID, or by two connections at the
// same moment, is acknowledged (AA) and changes nothing more; the journal has one entry.
TEST_P(Hl7Test, ADuplicatedA40IsAcknowledgedAndAppliedOnce) {
  store_study_of(*node_, dir_.path() / "a", "PA", "Doe^Jane", 21);
  store_study_of(*node_, dir_.path() / "b", "PB", "Doe^Jane", 22);
  const std::string merge = "MRG|PA^^^HOSP^MR";
  for (const std::string control_id : {"ADT0020", "ADT0021"}) {
    const std::string ack = send(adt("A40", control_id, "PID|1||PB^^^HOSP^MR", merge));
    EXPECT_EQ(testing::ack_code(ack), "AA") << control_id << ": " << ack << node_->log();
  }
  // Two connections at once, for another pair.
  store_study_of(*node_, dir_.path() / "c", "PC", "Roe^Ann", 23);
  store_study_of(*node_, dir_.path() / "d", "PD", "Roe^Ann", 24);
  std::string acks[2];
  std::thread racers[2];
  for (int i = 0; i < 2; ++i)
    racers[i] = std::thread([&, i] {
      MllpClient client(node_->mllp_port());
      acks[i] = client
                    .exchange(adt("A40", "ADT003" + std::to_string(i), "PID|1||PD^^^HOSP^MR",
                                  "MRG|PC^^^HOSP^MR"))
                    .value_or("");
    });
  for (auto& t : racers) t.join();
  for (const auto& ack : acks) EXPECT_EQ(testing::ack_code(ack), "AA") << ack << node_->log();

  const auto counts = studies_per_patient(*node_, dir_.path() / "find");
  EXPECT_EQ(counts, (std::map<std::string, std::string>{{"PB", "2"}, {"PD", "2"}}));
  const json::value journal = merge_journal(*node_);
  ASSERT_EQ(journal.as_array().size(), 2u) << journal;
  for (const auto& entry : journal.as_array()) {
    EXPECT_EQ(entry.at("state").as_string(), "applied");
    EXPECT_EQ(entry.at("studies").as_array().size(), 1u) << entry;
    EXPECT_EQ(entry.at("actor").as_string(), "hl7 ADT|HOSP") << entry;
  }
}

// A into B, then B into C: everything ends on C. Merging C back into A would close a cycle: AE.
// The journal undoes the later merge first, then the earlier one, back to three patients.
TEST_P(Hl7Test, AMergeChainEndsOnTheLastPatientACycleIsRefusedAndUndoGoesBackInOrder) {
  store_study_of(*node_, dir_.path() / "a", "PA", "Doe^Jane", 31);
  store_study_of(*node_, dir_.path() / "b", "PB", "Doe^Jane", 32);
  store_study_of(*node_, dir_.path() / "c", "PC", "Doe^Jane", 33);
  ASSERT_EQ(testing::ack_code(send(adt("A40", "ADT0040", "PID|1||PB^^^HOSP", "MRG|PA^^^HOSP"))),
            "AA");
  ASSERT_EQ(testing::ack_code(send(adt("A40", "ADT0041", "PID|1||PC^^^HOSP", "MRG|PB^^^HOSP"))),
            "AA");
  EXPECT_EQ(studies_per_patient(*node_, dir_.path() / "f1"),
            (std::map<std::string, std::string>{{"PC", "3"}}));
  const std::string cycle = send(adt("A40", "ADT0042", "PID|1||PA^^^HOSP", "MRG|PC^^^HOSP"));
  EXPECT_EQ(testing::ack_code(cycle), "AE") << cycle;
  EXPECT_EQ(err_code(cycle), "205") << cycle;
  EXPECT_NE(cycle.find("cycle"), std::string::npos) << cycle;
  // A stale duplicate of the first merge (PA is in PB, which is in PC): AA, nothing moves.
  EXPECT_EQ(testing::ack_code(send(adt("A40", "ADT0043", "PID|1||PB^^^HOSP", "MRG|PA^^^HOSP"))),
            "AA");
  EXPECT_EQ(studies_per_patient(*node_, dir_.path() / "f2"),
            (std::map<std::string, std::string>{{"PC", "3"}}));

  const json::value journal = merge_journal(*node_);
  ASSERT_EQ(journal.as_array().size(), 2u) << journal;
  const std::int64_t later = journal.as_array()[0].at("id").as_int64();
  const std::int64_t earlier = journal.as_array()[1].at("id").as_int64();
  const auto refused = undo_merge(*node_, earlier);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("undo it first"), std::string::npos) << refused.body;
  ASSERT_EQ(undo_merge(*node_, later).status, 200);
  EXPECT_EQ(studies_per_patient(*node_, dir_.path() / "f3"),
            (std::map<std::string, std::string>{{"PB", "2"}, {"PC", "1"}}));
  ASSERT_EQ(undo_merge(*node_, earlier).status, 200);
  EXPECT_EQ(studies_per_patient(*node_, dir_.path() / "f4"),
            (std::map<std::string, std::string>{{"PA", "1"}, {"PB", "1"}, {"PC", "1"}}));
  EXPECT_EQ(undo_merge(*node_, earlier).status, 409) << "undone already";
}

// An operator previews a merge (what would move, nothing moves), applies it, and undoes it: every
// object of both patients is retrieved byte for byte as before the merge, the order's worklist
// item is the prior patient's again, and the counts are right.
TEST_P(Hl7Test, UnmergeRestoresWhatRetrieveAndTheWorklistAnsweredBeforeTheMerge) {
  const auto a = store_study_of(*node_, dir_.path() / "a", "PA", "Doe^Jane", 41);
  const auto b = store_study_of(*node_, dir_.path() / "b", "PB", "Roe^Janet", 42);
  const std::string study_a = testing::value_of(a[0], DCM_StudyInstanceUID);
  const std::string study_b = testing::value_of(b[0], DCM_StudyInstanceUID);
  Order o{.control_id = "ORD0050",
          .placer = "PL50",
          .filler = "FL50",
          .accession = "ACC50",
          .patient_id = "PA"};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  const auto before_a = retrieved_bytes(*node_, study_a);
  const auto before_b = retrieved_bytes(*node_, study_b);
  ASSERT_EQ(before_a.size(), 2u);

  const std::string query = "/api/patients/merge?priorPatientID=PA&patientID=PB";
  const auto preview = testing::http_request(node_->http_port(), "GET", query, {});
  ASSERT_EQ(preview.status, 200) << preview.body;
  const json::value previewed = testing::parse_json(preview.body);
  EXPECT_EQ(previewed.at("studies").as_array().size(), 1u) << previewed;
  EXPECT_EQ(previewed.at("studies").as_array()[0].as_string(), study_a);
  EXPECT_EQ(previewed.at("orders").as_int64(), 1) << previewed;
  EXPECT_TRUE(merge_journal(*node_).as_array().empty()) << "a preview changes nothing";
  EXPECT_EQ(studies_per_patient(*node_, dir_.path() / "f0"),
            (std::map<std::string, std::string>{{"PA", "1"}, {"PB", "1"}}));

  // The merge, by the RIS (with the survivor's demographics), and its effect on retrieve.
  ASSERT_EQ(testing::ack_code(send(
                adt("A40", "ADT0050", "PID|1||PB^^^HOSP||Roe^Janet^Q||19650505", "MRG|PA^^^HOSP"))),
            "AA");
  for (const auto& bytes : retrieved_bytes(*node_, study_a)) {
    testing::write_all(dir_.path() / "merged.dcm", bytes);
    EXPECT_EQ(testing::value_of(dir_.path() / "merged.dcm", DCM_PatientID), "PB");
  }
  EXPECT_EQ(worklist_count({"PatientID=PB", "AccessionNumber=ACC50"}), 1u);
  const auto self = testing::http_request(node_->http_port(), "POST",
                                          "/api/patients/merge?priorPatientID=PB&patientID=PB", {});
  EXPECT_EQ(self.status, 409) << self.body;

  const json::value journal = merge_journal(*node_);
  ASSERT_EQ(journal.as_array().size(), 1u);
  const auto undone = undo_merge(*node_, journal.as_array()[0].at("id").as_int64());
  ASSERT_EQ(undone.status, 200) << undone.body;
  EXPECT_EQ(testing::parse_json(undone.body).at("state").as_string(), "undone");
  EXPECT_EQ(retrieved_bytes(*node_, study_a), before_a) << "byte for byte, as before the merge";
  EXPECT_EQ(retrieved_bytes(*node_, study_b), before_b);
  EXPECT_EQ(studies_per_patient(*node_, dir_.path() / "f1"),
            (std::map<std::string, std::string>{{"PA", "1"}, {"PB", "1"}}));
  EXPECT_EQ(worklist_count({"PatientID=PA", "AccessionNumber=ACC50"}), 1u);
  EXPECT_EQ(worklist_count({"PatientID=PB"}), 0u);

  // The operator merges again over the API: applied, journaled with the operator.
  const auto merged = testing::http_request(node_->http_port(), "POST", query, {});
  ASSERT_EQ(merged.status, 200) << merged.body;
  EXPECT_GT(testing::parse_json(merged.body).at("id").as_int64(), 0);
  EXPECT_EQ(studies_per_patient(*node_, dir_.path() / "f2"),
            (std::map<std::string, std::string>{{"PB", "2"}}));
}

// A message the receiver chokes on (it closes the connection without an answer) is retried, then
// set aside as failed after --hl7-outbox-max-attempts while the 1,000 items behind it are
// delivered. An operator reads it, fixes it and replays it: it is delivered once.
TEST_P(Hl7Test, APoisonMessageIsSetAsideWhileTheThousandBehindItFlowAndAFixedOneIsDeliveredOnce) {
  const int ehr_port = testing::free_port();
  testing::MllpListener ehr(ehr_port, nullptr, [](const std::string& message) {
    return message.find("POISON") != std::string::npos;
  });
  TestNode node({.db = url_,
                 .extra_flags = {"--hl7-destination", "EHR=127.0.0.1:" + std::to_string(ehr_port),
                                 "--study-quiet-seconds", "1", "--hl7-outbox-max-attempts", "3"}});
  node.start();
  auto outbox = [&] {
    return testing::parse_json(
        testing::http_request(node.http_port(), "GET", "/api/outbox?limit=5000", {}).body);
  };
  store_study_of(node, dir_.path() / "poison", "PPOISON", "POISON^PILL", 61);
  std::int64_t poison = -1;
  // Bounded: the study completes after a second of quiet, and its item is made at once.
  for (int i = 0; i < 100 && poison < 0; ++i) {
    const json::value items = outbox();
    for (const auto& item : items.as_array()) poison = item.at("id").as_int64();
    if (poison < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GT(poison, 0) << node.log();

  const auto behind = dir_.path() / "behind";
  testing::generate_corpus(behind, {"--patients", "10", "--studies", "100", "--series", "1",
                                    "--instances", "1", "--rows", "16", "--columns", "16"});
  ASSERT_EQ(testing::storescu(node.dimse_port(), {behind.string()}).exit_code, 0);
  auto delivered = [&] {
    std::set<std::string> control_ids;
    for (const auto& m : ehr.messages())
      if (m.find("POISON") == std::string::npos)
        control_ids.insert(m.substr(0, m.find('\r')));  // the MSH, with MSH-10
    return control_ids.size();
  };
  std::string poison_state, poison_error;
  // Bounded: 1,000 deliveries on loopback, and three attempts of the poison 1 s and 2 s apart.
  for (int i = 0; i < 600 && (delivered() < 1000 || poison_state != "failed"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const json::value items = outbox();
    for (const auto& item : items.as_array())
      if (item.at("id").as_int64() == poison) {
        poison_state = item.at("state").as_string();
        poison_error = item.at("lastError").as_string();
      }
  }
  EXPECT_EQ(delivered(), 1000u) << "every item behind the poison";
  ASSERT_EQ(poison_state, "failed") << node.log();
  EXPECT_NE(poison_error.find("gave up after 3 attempts"), std::string::npos) << poison_error;
  auto received_with = [&](const std::string& text) {
    const auto received = ehr.messages();
    return std::count_if(received.begin(), received.end(),
                         [&](const std::string& m) { return m.find(text) != std::string::npos; });
  };
  EXPECT_EQ(received_with("POISON"), 3);

  // The operator reads the message, fixes it, and replays it.
  const std::string path = "/api/outbox/" + std::to_string(poison);
  const auto read = testing::http_request(node.http_port(), "GET", path + "/message", {});
  ASSERT_EQ(read.status, 200) << read.body;
  std::string fixed = read.body;
  ASSERT_NE(fixed.find("POISON"), std::string::npos) << fixed;
  // Bounded by the text: each pass replaces one occurrence (Patient ID and name).
  for (auto at = fixed.find("POISON"); at != std::string::npos; at = fixed.find("POISON"))
    fixed.replace(at, 6, "FIXED");
  const auto fixed_file = dir_.path() / "fixed.hl7", garbage_file = dir_.path() / "garbage.txt";
  testing::write_all(fixed_file, fixed);
  testing::write_all(garbage_file, "not hl7");
  const auto edited =
      testing::http_request(node.http_port(), "PUT", path + "/message", {}, fixed_file);
  ASSERT_EQ(edited.status, 200) << edited.body;
  EXPECT_EQ(
      testing::http_request(node.http_port(), "PUT", path + "/message", {}, garbage_file).status,
      400);
  ASSERT_EQ(testing::http_request(node.http_port(), "POST", path + "/retry", {}).status, 200);
  ASSERT_TRUE(ehr.wait_for("FIXED^PILL", std::chrono::seconds(30))) << node.log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // time for a wrong resend
  EXPECT_EQ(received_with("FIXED^PILL"), 1);
  const auto sent_edit =
      testing::http_request(node.http_port(), "PUT", path + "/message", {}, fixed_file);
  EXPECT_EQ(sent_edit.status, 409) << "a sent item is not edited";
}

// A study is linked to its order when it arrives (by Study Instance UID, else by Accession Number,
// the patient agreeing); otherwise it is listed as unreconciled with the reason, until an operator
// links it over the JSON API.
TEST_P(Hl7Test, AStudyIsLinkedToItsOrderOrListedAsUnreconciled) {
  Order o{.control_id = "ORD0009",
          .placer = "PL9",
          .filler = "FL9",
          .accession = "ACC9",
          .patient_id = "P9"};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  const auto linked = store_study_of(*node_, dir_.path() / "s1", "P9", "Doe^Jane", 11, "ACC9");
  const auto unknown = store_study_of(*node_, dir_.path() / "s2", "P9", "Doe^Jane", 12, "ACC404");
  const auto other = store_study_of(*node_, dir_.path() / "s3", "PX", "Roe^Rita", 13, "ACC9");
  const std::string linked_uid = testing::value_of(linked[0], DCM_StudyInstanceUID);
  const std::string unknown_uid = testing::value_of(unknown[0], DCM_StudyInstanceUID);
  const std::string other_uid = testing::value_of(other[0], DCM_StudyInstanceUID);

  auto get = [&](const std::string& path) {
    return testing::http_request(node_->http_port(), "GET", path, {});
  };
  auto all = testing::parse_json(get("/api/reconciliation").body).as_array();
  ASSERT_EQ(all.size(), 3u);
  std::map<std::string, json::object> by_study;
  for (const auto& v : all)
    by_study[std::string(v.at("studyInstanceUID").as_string())] = v.as_object();
  EXPECT_EQ(by_study[linked_uid].at("state"), "linked");
  EXPECT_EQ(by_study[linked_uid].at("reason"), "matched by Accession Number");
  EXPECT_EQ(by_study[linked_uid].at("fillerOrder"), "FL9");
  EXPECT_EQ(by_study[unknown_uid].at("state"), "unreconciled");
  EXPECT_NE(std::string(by_study[unknown_uid].at("reason").as_string()).find("no order"),
            std::string::npos);
  EXPECT_EQ(by_study[other_uid].at("state"), "unreconciled");
  EXPECT_NE(std::string(by_study[other_uid].at("reason").as_string()).find("another patient"),
            std::string::npos);
  // The order's worklist item is STARTED now that its images arrive.
  auto items = worklist(
      {"AccessionNumber=ACC9", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus"});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(step_text(*items[0]->getDataset(), DCM_ScheduledProcedureStepStatus), "STARTED");
  // A change of the order's details keeps the step's progress.
  Order changed = o;
  changed.control_id = "ORD0010";
  changed.order_control = "XO";
  changed.start = "20261125090000";
  ASSERT_EQ(testing::ack_code(send(orm(changed))), "AA");
  items = worklist(
      {"AccessionNumber=ACC9", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus"});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(step_text(*items[0]->getDataset(), DCM_ScheduledProcedureStepStatus), "STARTED");

  // An operator links the unscheduled study to the order.
  auto post = [&](const std::string& path) {
    return testing::http_request(node_->http_port(), "POST", path, {});
  };
  EXPECT_EQ(post("/api/reconciliation/" + unknown_uid + "/link?fillerOrder=FL9").status, 200);
  EXPECT_EQ(post("/api/reconciliation/1.2.3.4.404/link?fillerOrder=FL9").status, 404);
  EXPECT_EQ(post("/api/reconciliation/" + other_uid + "/link?fillerOrder=NOPE").status, 404);
  EXPECT_EQ(post("/api/reconciliation/" + other_uid + "/link").status, 400);
  EXPECT_EQ(get("/api/reconciliation?state=bogus").status, 400);
  auto open = testing::parse_json(get("/api/reconciliation?state=unreconciled").body).as_array();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(std::string(open[0].at("studyInstanceUID").as_string()), other_uid);
  auto now_linked = testing::parse_json(get("/api/reconciliation?state=linked").body).as_array();
  EXPECT_EQ(now_linked.size(), 2u);

  // Linked by an operator to the order of another patient, the study becomes that patient's.
  EXPECT_EQ(post("/api/reconciliation/" + other_uid + "/link?fillerOrder=FL9").status, 200);
  EXPECT_TRUE(names_in_cfind(*node_, dir_.path() / "f1", "PX").empty());
  EXPECT_EQ(names_in_cfind(*node_, dir_.path() / "f2", "P9").size(), 3u);
  for (const auto& ff : wado_study(*node_, dir_.path() / "part.dcm", other_uid))
    EXPECT_EQ(text_of(*ff->getDataset(), DCM_PatientID), "P9");
}

// An unscheduled study (no order: an emergency under a temporary ID) is linked by an operator to
// its patient, as the index knows the patient or as an order names one: it becomes that patient's
// in C-FIND and retrieved objects and leaves the unreconciled list; an order that comes later for
// it still links it. A Patient ID two authorities issue must be named with its issuer.
TEST_P(Hl7Test, AnOperatorLinksAStudyWithoutAnOrderToItsPatient) {
  store_study_of(*node_, dir_.path() / "known", "P70", "Known^Kate", 70);
  const auto temporary =
      store_study_of(*node_, dir_.path() / "tmp", "TMP71", "Trauma^Unknown", 71, "ACC71");
  const std::string study = testing::value_of(temporary[0], DCM_StudyInstanceUID);
  ASSERT_EQ(link_state(*node_, study), "unreconciled");
  auto post = [&](const std::string& path) {
    return testing::http_request(node_->http_port(), "POST", path, {});
  };
  const std::string link = "/api/reconciliation/" + study + "/link";
  EXPECT_EQ(post(link + "?patientID=NOBODY").status, 404);
  EXPECT_EQ(post("/api/reconciliation/1.2.3.4.404/link?patientID=P70").status, 404);
  EXPECT_EQ(post(link + "?patientID=P70&fillerOrder=FL9").status, 400);
  EXPECT_EQ(link_state(*node_, study), "unreconciled");

  const auto linked = post(link + "?patientID=P70");
  ASSERT_EQ(linked.status, 200) << linked.body;
  EXPECT_EQ(link_state(*node_, study), "linked");
  EXPECT_TRUE(names_in_cfind(*node_, dir_.path() / "f1", "TMP71").empty());
  EXPECT_EQ(names_in_cfind(*node_, dir_.path() / "f2", "P70"),
            (std::vector<std::string>{"Known^Kate", "Known^Kate"}));
  const auto objects = wado_study(*node_, dir_.path() / "part.dcm", study);
  ASSERT_EQ(objects.size(), 2u);
  for (const auto& ff : objects) {
    EXPECT_EQ(text_of(*ff->getDataset(), DCM_PatientID), "P70");
    EXPECT_EQ(text_of(*ff->getDataset(), DCM_PatientName), "Known^Kate");
  }
  // The order the RIS creates afterwards for the performed study links it.
  Order late{.control_id = "ORD0071",
             .placer = "PL71",
             .filler = "FL71",
             .accession = "ACC71",
             .patient_id = "P70",
             .patient_name = "Known^Kate"};
  ASSERT_EQ(testing::ack_code(send(orm(late))), "AA");
  const auto listed = testing::parse_json(
      testing::http_request(node_->http_port(), "GET", "/api/reconciliation?state=linked", {})
          .body);
  bool by_order = false;
  for (const auto& v : listed.as_array())
    by_order |= v.at("studyInstanceUID").as_string() == study && v.at("fillerOrder") == "FL71";
  EXPECT_TRUE(by_order) << listed;

  // A patient only an order names (no study yet) takes a study too, with the order's name.
  Order only_ordered{.control_id = "ORD0073",
                     .placer = "PL73",
                     .filler = "FL73",
                     .accession = "ACC73",
                     .patient_id = "P73",
                     .patient_name = "Ordered^Olga"};
  ASSERT_EQ(testing::ack_code(send(orm(only_ordered))), "AA");
  const auto other = store_study_of(*node_, dir_.path() / "o", "TMP73", "Trauma^Two", 73);
  const std::string other_study = testing::value_of(other[0], DCM_StudyInstanceUID);
  ASSERT_EQ(post("/api/reconciliation/" + other_study + "/link?patientID=P73").status, 200);
  EXPECT_EQ(names_in_cfind(*node_, dir_.path() / "f3", "P73"),
            std::vector<std::string>{"Ordered^Olga"});

  // Two hospitals' "P74": the ID alone is refused, the ID with its issuer links.
  store_study_of(*node_, dir_.path() / "a", "P74", "North^Nina", 74, "", "NORTH");
  store_study_of(*node_, dir_.path() / "b", "P74", "South^Sara", 75, "", "SOUTH");
  const auto third = store_study_of(*node_, dir_.path() / "c", "TMP76", "Trauma^Three", 76);
  const std::string third_link =
      "/api/reconciliation/" + testing::value_of(third[0], DCM_StudyInstanceUID) + "/link";
  const auto ambiguous = post(third_link + "?patientID=P74");
  EXPECT_EQ(ambiguous.status, 400);
  EXPECT_NE(ambiguous.body.find("Issuer of Patient ID"), std::string::npos) << ambiguous.body;
  EXPECT_EQ(post(third_link + "?patientID=P74&issuerOfPatientID=SOUTH").status, 200);
  auto names = names_in_cfind(*node_, dir_.path() / "f4", "P74");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"North^Nina", "South^Sara", "South^Sara"}));
}

// Two hospitals issue the same Patient ID to two people: with Issuer of Patient ID they stay apart
// in C-FIND and QIDO-RS (IssuerOfPatientID as a key), on retrieve, and when an ADT names one of
// them with its assigning authority (PID-3.4).
TEST_P(Hl7Test, TwoPatientsWithOneIdAndTwoIssuersStayApart) {
  const auto north =
      store_study_of(*node_, dir_.path() / "n", "P77", "North^Nina", 77, "", "NORTH");
  const auto south =
      store_study_of(*node_, dir_.path() / "s", "P77", "South^Sara", 78, "", "SOUTH");
  auto names_of = [&](const std::string& issuer) {
    const auto out = dir_.path() / ("find-" + issuer + std::to_string(counter_++));
    fs::create_directories(out);
    auto r = testing::run_dcmtk_tool(
        {"findscu", "-P", "-aec", "PACSNODE", "-X", "-od", out.string()},
        {"QueryRetrieveLevel=PATIENT", "PatientID=P77", "IssuerOfPatientID=" + issuer,
         "PatientName", "NumberOfPatientRelatedStudies"},
        node_->dimse_port());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::string> names;
    for (const auto& f : testing::files_below(out))
      names.push_back(testing::value_of(f, DCM_PatientName) + "/" +
                      testing::value_of(f, DCM_NumberOfPatientRelatedStudies));
    return names;
  };
  EXPECT_EQ(names_of("NORTH"), std::vector<std::string>{"North^Nina/1"});
  EXPECT_EQ(names_of("SOUTH"), std::vector<std::string>{"South^Sara/1"});
  const auto qido = testing::http_request(
      node_->http_port(), "GET", "/dicom-web/studies?PatientID=P77&IssuerOfPatientID=SOUTH", {});
  ASSERT_EQ(qido.status, 200) << qido.body;
  const json::value studies = testing::parse_json(qido.body);
  ASSERT_EQ(studies.as_array().size(), 1u) << qido.body;
  EXPECT_EQ(qido.body.find("North"), std::string::npos) << qido.body;

  // An A08 for NORTH's P77 changes that patient only, in queries and on retrieve.
  ASSERT_EQ(testing::ack_code(send(adt("A08", "ADT0077", "PID|1||P77^^^NORTH^MR||North^Nora"))),
            "AA");
  EXPECT_EQ(names_of("NORTH"), std::vector<std::string>{"North^Nora/1"});
  EXPECT_EQ(names_of("SOUTH"), std::vector<std::string>{"South^Sara/1"});
  for (const auto& [files, name] :
       {std::pair{&north, "North^Nora"}, std::pair{&south, "South^Sara"}}) {
    const auto objects = wado_study(*node_, dir_.path() / "part.dcm",
                                    testing::value_of((*files)[0], DCM_StudyInstanceUID));
    ASSERT_EQ(objects.size(), 2u);
    for (const auto& ff : objects) EXPECT_EQ(text_of(*ff->getDataset(), DCM_PatientName), name);
  }

  // FHIR: two Patients, each read by its own id, each study's subject its own patient; an
  // identifier search with the issuer as system finds one.
  auto fhir = [&](const std::string& path) {
    const auto r = testing::http_request(node_->http_port(), "GET", "/fhir" + path, {});
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    return testing::parse_json(r.body);
  };
  const json::value both = fhir("/Patient?identifier=P77");
  ASSERT_EQ(both.at("total").as_int64(), 2) << json::serialize(both);
  std::map<std::string, std::string> id_of_issuer;
  for (const auto& entry : both.at("entry").as_array()) {
    const auto& patient = entry.at("resource");
    const auto& identifier = patient.at("identifier").at(0);
    EXPECT_EQ(identifier.at("value").as_string(), "P77");
    id_of_issuer[std::string(identifier.at("assigner").at("display").as_string())] =
        std::string(patient.at("id").as_string());
  }
  ASSERT_EQ(id_of_issuer.size(), 2u);
  EXPECT_NE(id_of_issuer["NORTH"], id_of_issuer["SOUTH"]);
  for (const auto& [issuer, files, name] :
       {std::tuple{"NORTH", &north, "Nora"}, std::tuple{"SOUTH", &south, "Sara"}}) {
    const json::value read = fhir("/Patient/" + id_of_issuer[issuer]);
    EXPECT_EQ(read.at("name").at(0).at("given").at(0).as_string(), name);
    const json::value studies_of = fhir("/ImagingStudy?patient=Patient/" + id_of_issuer[issuer]);
    ASSERT_EQ(studies_of.at("total").as_int64(), 1) << json::serialize(studies_of);
    const auto& study = studies_of.at("entry").at(0).at("resource");
    EXPECT_EQ(study.at("id").as_string(), testing::value_of((*files)[0], DCM_StudyInstanceUID));
    EXPECT_EQ(study.at("subject").at("reference").as_string(), "Patient/" + id_of_issuer[issuer]);
    const json::value by_system = fhir(std::string("/Patient?identifier=") + issuer + "%7CP77");
    ASSERT_EQ(by_system.at("total").as_int64(), 1) << json::serialize(by_system);
    EXPECT_EQ(by_system.at("entry").at(0).at("resource").at("id").as_string(),
              id_of_issuer[issuer]);
  }
  // The Patient ID alone names the patient without an issuer: there is none.
  EXPECT_EQ(testing::http_request(node_->http_port(), "GET", "/fhir/Patient/P77", {}).status, 404);
}

// Sources that leave the issuer empty get their site's: objects from a calling AE, orders and
// ADT from a sending application. The stored object keeps what arrived in Original Attributes.
TEST_P(Hl7Test, ADefaultIssuerPerCallingAeAndSendingApplicationKeepsTwoSitesApart) {
  node_.reset();
  TestNode node(
      TestNode::Options{.db = url_,
                        .extra_flags = {"--default-issuer-for-ae", "NORTHCT=NORTH",
                                        "--default-issuer-for-application", "NORTHRIS=NORTH"}});
  node.start();
  const auto north =
      store_study_of(node, dir_.path() / "n", "P88", "North^Nina", 88, "", "", "NORTHCT");
  const auto south =
      store_study_of(node, dir_.path() / "s", "P88", "South^Sara", 89, "", "SOUTH", "SOUTHCT");
  auto find_patients = [&](const std::string& issuer) {
    const auto out = dir_.path() / ("find" + std::to_string(counter_++));
    fs::create_directories(out);
    auto r =
        testing::run_dcmtk_tool({"findscu", "-P", "-aec", "PACSNODE", "-X", "-od", out.string()},
                                {"QueryRetrieveLevel=PATIENT", "PatientID=P88",
                                 "IssuerOfPatientID=" + issuer, "PatientName"},
                                node.dimse_port());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::string> names;
    for (const auto& f : testing::files_below(out))
      names.push_back(testing::value_of(f, DCM_IssuerOfPatientID) + "/" +
                      testing::value_of(f, DCM_PatientName));
    std::sort(names.begin(), names.end());
    return names;
  };
  EXPECT_EQ(find_patients(""), (std::vector<std::string>{"NORTH/North^Nina", "SOUTH/South^Sara"}));
  // The stored object carries the issuer, and what it replaced (nothing) with the reason.
  const auto objects =
      wado_study(node, dir_.path() / "part.dcm", testing::value_of(north[0], DCM_StudyInstanceUID));
  ASSERT_EQ(objects.size(), 2u);
  for (const auto& ff : objects) {
    DcmDataset& ds = *ff->getDataset();
    EXPECT_EQ(text_of(ds, DCM_IssuerOfPatientID), "NORTH");
    DcmItem* original = nullptr;
    ASSERT_TRUE(ds.findAndGetSequenceItem(DCM_OriginalAttributesSequence, original, 0).good());
    EXPECT_EQ(text_of(*original, DCM_ReasonForTheAttributeModification), "COERCE");
    DcmItem* modified = nullptr;
    ASSERT_TRUE(
        original->findAndGetSequenceItem(DCM_ModifiedAttributesSequence, modified, 0).good());
    EXPECT_TRUE(modified->tagExists(DCM_IssuerOfPatientID));
    EXPECT_EQ(text_of(*modified, DCM_IssuerOfPatientID), "");
  }

  // An order and an A08 from the north RIS without PID-3.4 are NORTH's.
  MllpClient client(node.mllp_port());
  auto from_north_ris = [](std::string message) {
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"^^^HOSP^MR", ""},
                                   {"MSH|^~\\&|RIS|", "MSH|^~\\&|NORTHRIS|"},
                                   {"MSH|^~\\&|ADT|", "MSH|^~\\&|NORTHRIS|"}})
      if (const auto at = message.find(from); at != std::string::npos)
        message.replace(at, from.size(), to);
    return message;
  };
  Order o{.control_id = "ORD0088", .placer = "PL88", .filler = "FL88", .accession = "ACC88"};
  o.patient_id = "P88";
  const auto order_ack = client.exchange(from_north_ris(orm(o)));
  ASSERT_TRUE(order_ack);
  EXPECT_EQ(testing::ack_code(*order_ack), "AA") << *order_ack;
  const auto out = dir_.path() / "mwl";
  fs::create_directories(out);
  auto r = testing::run_dcmtk_tool({"findscu", "-W", "-aec", "PACSNODE", "-X", "-od", out.string()},
                                   {"AccessionNumber=ACC88", "PatientID", "IssuerOfPatientID"},
                                   node.dimse_port());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto items = testing::files_below(out);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(testing::value_of(items[0], DCM_IssuerOfPatientID), "NORTH");
  const auto adt_ack =
      client.exchange(from_north_ris(adt("A08", "ADT0088", "PID|1||P88||North^Nora")));
  ASSERT_TRUE(adt_ack);
  EXPECT_EQ(testing::ack_code(*adt_ack), "AA") << *adt_ack;
  EXPECT_EQ(find_patients(""), (std::vector<std::string>{"NORTH/North^Nora", "SOUTH/South^Sara"}));
  // Without the mapping the same A08 names P88 of both issuers: refused, nothing changes.
  const auto plain = client.exchange(adt("A08", "ADT0089", "PID|1||P88||Nobody^Else"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(testing::ack_code(*plain), "AE") << *plain;
  EXPECT_EQ(find_patients(""), (std::vector<std::string>{"NORTH/North^Nora", "SOUTH/South^Sara"}));
}

// The reconciliation work queue: a study without its order, orders past their time without
// images, and a study whose demographics contradict its patient's, each with ranked candidates
// and reasons; split, link and resolve take items off it.
TEST_P(Hl7Test, TheReconciliationQueueRanksCandidatesAndItsActionsClearIt) {
  const auto a = store_study_of(*node_, dir_.path() / "a", "P60", "Doe^Jane", 60);
  const std::string study_a = testing::value_of(a[0], DCM_StudyInstanceUID);
  Order jane{.control_id = "ORD0060", .placer = "PL60", .filler = "FL60", .accession = "ACC60"};
  jane.patient_id = "P60";
  ASSERT_EQ(testing::ack_code(send(orm(jane))), "AA");
  Order rita{.control_id = "ORD0061", .placer = "PL61", .filler = "FL61", .accession = "ACC61"};
  rita.patient_id = "P61";
  rita.patient_name = "Roe^Rita";
  rita.birth_date = "19550505";
  ASSERT_EQ(testing::ack_code(send(orm(rita))), "AA");
  store_study_of(*node_, dir_.path() / "c", "P62", "Smith^Anna", 62);
  // P60's second study names someone else.
  const auto b = store_study_of(*node_, dir_.path() / "b", "P60", "Smith^Anna", 63);
  const std::string study_b = testing::value_of(b[0], DCM_StudyInstanceUID);

  auto queue = [&] {
    const auto r =
        testing::http_request(node_->http_port(), "GET", "/api/reconciliation/queue", {});
    EXPECT_EQ(r.status, 200) << r.body;
    return json::array(testing::parse_json(r.body).at("items").as_array());
  };
  // The item of a kind whose subject has key = value (a copy; null when there is none).
  auto find_item = [](const json::array& items, const std::string& kind, const std::string& key,
                      const std::string& value) -> json::value {
    const char* part = kind == "unscheduled-study" ? "study"
                       : kind == "overdue-order"   ? "order"
                                                   : "conflict";
    for (const auto& item : items)
      if (item.at("kind").as_string() == kind && item.at(part).at(key).as_string() == value)
        return item;
    return nullptr;
  };
  auto reasons_of = [](const json::value& candidate) {
    std::string all;
    for (const auto& why : candidate.at("reasons").as_array())
      all += std::string(why.as_string()) + ";";
    return all;
  };
  {
    const json::array items = queue();
    // Study A: P60's order first, for its Patient ID, name and birth date; Rita's is no match.
    const auto unscheduled = find_item(items, "unscheduled-study", "studyInstanceUID", study_a);
    ASSERT_FALSE(unscheduled.is_null()) << json::serialize(items);
    const auto& candidates = unscheduled.at("candidates").as_array();
    ASSERT_FALSE(candidates.empty());
    EXPECT_EQ(candidates[0].at("fillerOrder").as_string(), "FL60");
    const std::string why = reasons_of(candidates[0]);
    EXPECT_NE(why.find("+40 same Patient ID"), std::string::npos) << why;
    EXPECT_NE(why.find("+20 same name"), std::string::npos) << why;
    EXPECT_NE(why.find("+20 same birth date"), std::string::npos) << why;
    for (const auto& c : candidates) EXPECT_NE(c.at("fillerOrder").as_string(), "FL61");
    // Both orders are past their scheduled start without images; study A ranks above B for FL60.
    const auto overdue = find_item(items, "overdue-order", "fillerOrder", "FL60");
    ASSERT_FALSE(overdue.is_null()) << json::serialize(items);
    EXPECT_GT(overdue.at("overdueMinutes").as_int64(), 60);
    const auto& studies = overdue.at("candidates").as_array();
    ASSERT_GE(studies.size(), 2u);
    EXPECT_EQ(studies[0].at("studyInstanceUID").as_string(), study_a);
    EXPECT_GT(studies[0].at("score").as_int64(), studies[1].at("score").as_int64());
    EXPECT_FALSE(find_item(items, "overdue-order", "fillerOrder", "FL61").is_null());
    // Study B: a conflict, with P62 (the name it carries) among the candidates.
    const auto conflict = find_item(items, "demographic-conflict", "studyInstanceUID", study_b);
    ASSERT_FALSE(conflict.is_null()) << json::serialize(items);
    EXPECT_EQ(conflict.at("conflict").at("known").at("patientName").as_string(), "Doe^Jane");
    EXPECT_EQ(conflict.at("conflict").at("arrived").at("patientName").as_string(), "Smith^Anna");
    bool namesake = false;
    for (const auto& c : conflict.at("candidates").as_array())
      if (c.at("patient").at("patientID").as_string() == "P62") {
        namesake = true;
        EXPECT_NE(reasons_of(c).find("+20 same name"), std::string::npos) << reasons_of(c);
      }
    EXPECT_TRUE(namesake) << json::serialize(conflict);
  }

  // Split: study B goes to P62, in queries and on retrieve; its conflict closes.
  EXPECT_EQ(testing::http_request(node_->http_port(), "POST",
                                  "/api/reconciliation/" + study_b + "/split", {})
                .status,
            400);
  EXPECT_EQ(testing::http_request(node_->http_port(), "POST",
                                  "/api/reconciliation/1.2.3.4/split?patientID=P62", {})
                .status,
            404);
  const auto split = testing::http_request(
      node_->http_port(), "POST", "/api/reconciliation/" + study_b + "/split?patientID=P62", {});
  ASSERT_EQ(split.status, 200) << split.body;
  EXPECT_EQ(names_in_cfind(*node_, dir_.path() / "f62", "P62"),
            (std::vector<std::string>{"Smith^Anna", "Smith^Anna"}));
  for (const auto& ff : wado_study(*node_, dir_.path() / "part.dcm", study_b))
    EXPECT_EQ(text_of(*ff->getDataset(), DCM_PatientID), "P62");
  // Link: study A to its order; neither is on the queue any more.
  ASSERT_EQ(testing::http_request(node_->http_port(), "POST",
                                  "/api/reconciliation/" + study_a + "/link?fillerOrder=FL60", {})
                .status,
            200);
  {
    const json::array items = queue();
    EXPECT_TRUE(find_item(items, "demographic-conflict", "studyInstanceUID", study_b).is_null());
    EXPECT_TRUE(find_item(items, "unscheduled-study", "studyInstanceUID", study_a).is_null());
    EXPECT_TRUE(find_item(items, "overdue-order", "fillerOrder", "FL60").is_null());
    EXPECT_FALSE(find_item(items, "overdue-order", "fillerOrder", "FL61").is_null());
  }

  // An order naming P60 as someone else is a conflict too; an operator resolves it once.
  Order janet{.control_id = "ORD0064", .placer = "PL64", .filler = "FL64", .accession = "ACC64"};
  janet.patient_id = "P60";
  janet.patient_name = "Doe^Janet";
  ASSERT_EQ(testing::ack_code(send(orm(janet))), "AA");
  const auto from_order = find_item(queue(), "demographic-conflict", "fillerOrder", "FL64");
  ASSERT_FALSE(from_order.is_null());
  const std::string resolve = "/api/reconciliation/conflicts/" +
                              std::to_string(from_order.at("conflict").at("id").as_int64()) +
                              "/resolve?note=one%20person";
  EXPECT_EQ(testing::http_request(node_->http_port(), "POST", resolve, {}).status, 200);
  EXPECT_EQ(testing::http_request(node_->http_port(), "POST", resolve, {}).status, 404);
  EXPECT_TRUE(find_item(queue(), "demographic-conflict", "fillerOrder", "FL64").is_null());
}

// The EHR was told of a study before anyone knew its order or its patient: an operator's link
// and split tell it again, with the order's accession number and the new Patient ID.
TEST_P(Hl7Test, AStudyAnOperatorLinksOrSplitsAfterItWasAnnouncedIsAnnouncedAgain) {
  const int ehr_port = testing::free_port();
  testing::MllpListener ehr(ehr_port);
  node_ = std::make_unique<TestNode>(TestNode::Options{
      .db = url_,
      .extra_flags = {"--hl7-destination", "EHR=127.0.0.1:" + std::to_string(ehr_port),
                      "--study-quiet-seconds", "1"}});
  node_->start();
  const auto files = store_study_of(*node_, dir_.path() / "s", "P70", "Doe^Jane", 70);
  const std::string study = testing::value_of(files[0], DCM_StudyInstanceUID);
  ASSERT_TRUE(ehr.wait_for(study, std::chrono::seconds(20))) << node_->log();
  Order o{.control_id = "ORD0070", .placer = "PL70", .filler = "FL70", .accession = "ACC70"};
  o.patient_id = "P70";
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  ASSERT_EQ(testing::http_request(node_->http_port(), "POST",
                                  "/api/reconciliation/" + study + "/link?fillerOrder=FL70", {})
                .status,
            200);
  const auto linked = ehr.wait_for("ACC70", std::chrono::seconds(20));
  ASSERT_TRUE(linked) << node_->log();
  EXPECT_NE(linked->find(study), std::string::npos) << *linked;
  ASSERT_EQ(testing::http_request(node_->http_port(), "POST",
                                  "/api/reconciliation/" + study + "/split?patientID=P71", {})
                .status,
            200);
  const auto split = ehr.wait_for("P71", std::chrono::seconds(20));
  ASSERT_TRUE(split) << node_->log();
  EXPECT_NE(split->find(study), std::string::npos) << *split;
}

// Inbound dead letters: a refused message keeps its text; an operator reads it, fixes it
// (audited) and replays it, which applies it once. A message that keeps failing in a way that
// may pass (here the data disk at its reserve) is set aside after its attempts, with the reason,
// so its sender gets an answer that lets its queue move on.
TEST_P(Hl7Test, ARefusedMessageIsADeadLetterAnOperatorFixesAndReplaysOnce) {
  auto get = [&](const std::string& path) {
    return testing::http_request(node_->http_port(), "GET", path, {});
  };
  auto post = [&](const std::string& path) {
    return testing::http_request(node_->http_port(), "POST", path, {});
  };
  // No accession number (OBR-18): AE 101, recorded with the message.
  Order o{.control_id = "ORD0090", .placer = "PL90", .filler = "FL90", .accession = ""};
  o.patient_id = "P90";
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AE");
  const auto dead = testing::parse_json(get("/api/hl7/messages?state=dead").body).as_array();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].at("controlId").as_string(), "ORD0090");
  const std::string id = std::to_string(dead[0].at("id").as_int64());
  const auto text = get("/api/hl7/messages/" + id + "/message");
  ASSERT_EQ(text.status, 200) << text.body;
  EXPECT_NE(text.body.find("\nORC|NW|PL90"), std::string::npos) << text.body;
  EXPECT_EQ(text.body.find('\r'), std::string::npos);
  // A replay as it is fails the same way and stays a dead letter.
  const auto again = post("/api/hl7/messages/" + id + "/replay");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_NE(again.body.find("\"ackCode\":\"AE\""), std::string::npos) << again.body;
  const auto still = testing::parse_json(get("/api/hl7/messages?state=dead").body).as_array();
  ASSERT_EQ(still.size(), 1u);
  const std::string id2 = std::to_string(still[0].at("id").as_int64());
  // The fix: an accession number in OBR-18 (the operator's editor writes LF line ends).
  std::string fixed = text.body;
  const std::string obr = "\nOBR|";
  const auto at = fixed.find(obr);
  ASSERT_NE(at, std::string::npos);
  std::size_t field_start = at + 1;
  for (int bars = 0; bars < 18 && field_start < fixed.size(); ++field_start)
    if (fixed[field_start] == '|') ++bars;
  fixed.insert(field_start, "ACC90");
  const auto hello = dir_.path() / "hello.txt", fixed_file = dir_.path() / "fixed.hl7";
  std::ofstream(hello) << "hello";
  std::ofstream(fixed_file) << fixed;
  const auto not_hl7 = testing::http_request(node_->http_port(), "PUT",
                                             "/api/hl7/messages/" + id2 + "/message", {}, hello);
  EXPECT_EQ(not_hl7.status, 400) << not_hl7.body;
  const auto edited = testing::http_request(
      node_->http_port(), "PUT", "/api/hl7/messages/" + id2 + "/message", {}, fixed_file);
  ASSERT_EQ(edited.status, 200) << edited.body;
  const auto replayed = post("/api/hl7/messages/" + id2 + "/replay");
  ASSERT_EQ(replayed.status, 200) << replayed.body;
  EXPECT_NE(replayed.body.find("\"ackCode\":\"AA\""), std::string::npos) << replayed.body;
  EXPECT_EQ(worklist_count({"AccessionNumber=ACC90"}), 1u);
  EXPECT_EQ(testing::parse_json(get("/api/hl7/messages?state=dead").body).as_array().size(), 0u);
  EXPECT_EQ(post("/api/hl7/messages/" + id2 + "/replay").status, 404);  // applied once
  const auto log = testing::parse_json(get("/api/hl7/messages?controlId=ORD0090").body).as_array();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].at("ackCode").as_string(), "AA");

  // A message that keeps failing: unrecorded AE 207 twice, then set aside (recorded) on the third.
  TestNode full(TestNode::Options{
      .db = url_, .extra_flags = {"--min-free-mb", "1048576", "--hl7-inbound-max-attempts", "3"}});
  node_.reset();
  full.start();
  MllpClient client(full.mllp_port());
  Order stuck{.control_id = "ORD0091", .placer = "PL91", .filler = "FL91", .accession = "ACC91"};
  std::vector<std::string> acks;
  for (int i = 0; i < 4; ++i) {
    const auto ack = client.exchange(orm(stuck));
    ASSERT_TRUE(ack);
    acks.push_back(*ack);
  }
  for (const auto& ack : acks) EXPECT_EQ(testing::ack_code(ack), "AE") << ack;
  EXPECT_NE(acks[0].find("send again later"), std::string::npos) << acks[0];
  EXPECT_NE(acks[2].find("set aside after 3 attempts"), std::string::npos) << acks[2];
  EXPECT_EQ(acks[3], acks[2]);  // the recorded answer, not a fourth attempt
  const auto set_aside =
      testing::parse_json(
          testing::http_request(full.http_port(), "GET", "/api/hl7/messages?state=dead", {}).body)
          .as_array();
  ASSERT_EQ(set_aside.size(), 1u);
  EXPECT_EQ(set_aside[0].at("controlId").as_string(), "ORD0091");
}

// A study that arrives before its order is unreconciled until the order comes, then linked; a
// linked study takes the order's demographics (the RIS's), in C-FIND, QIDO-RS and retrieved
// objects, which keep the acquired values in Original Attributes Sequence. With
// --order-demographics keep it keeps its own.
TEST_P(Hl7Test, AStudyBeforeItsOrderIsLinkedWhenTheOrderComesAndTakesItsDemographics) {
  const auto files = store_study_of(*node_, dir_.path() / "s", "P40", "DOE^J", 40, "ACC40");
  const std::string study = testing::value_of(files[0], DCM_StudyInstanceUID);
  EXPECT_EQ(link_state(*node_, study), "unreconciled");
  Order o{.control_id = "ORD0040",
          .placer = "PL40",
          .filler = "FL40",
          .accession = "ACC40",
          .patient_id = "P40",
          .birth_date = "19650505"};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  EXPECT_EQ(link_state(*node_, study), "linked");

  EXPECT_EQ(names_in_cfind(*node_, dir_.path() / "f1", "P40"),
            std::vector<std::string>{"Doe^Jane^A^Mrs"});
  const auto qido =
      testing::http_request(node_->http_port(), "GET",
                            "/dicom-web/studies?PatientID=P40&includefield=PatientBirthDate", {});
  EXPECT_NE(qido.body.find("19650505"), std::string::npos) << qido.body;
  const auto objects = wado_study(*node_, dir_.path() / "part.dcm", study);
  ASSERT_EQ(objects.size(), 2u);
  for (const auto& ff : objects) {
    DcmDataset& ds = *ff->getDataset();
    EXPECT_EQ(text_of(ds, DCM_PatientName), "Doe^Jane^A^Mrs");  // XPN prefix to PN prefix
    EXPECT_EQ(text_of(ds, DCM_PatientBirthDate), "19650505");
    EXPECT_EQ(original_value(ds, DCM_PatientName), "DOE^J");
    EXPECT_EQ(original_value(ds, DCM_PatientBirthDate), "19700101");
  }
  // A corrected name in the order (XO) follows to its study.
  Order corrected = o;
  corrected.control_id = "ORD0041";
  corrected.order_control = "XO";
  corrected.patient_name = "Doe^Joan";
  ASSERT_EQ(testing::ack_code(send(orm(corrected))), "AA");
  EXPECT_EQ(names_in_cfind(*node_, dir_.path() / "f2", "P40"),
            std::vector<std::string>{"Doe^Joan"});

  // keep: linked, but the acquired demographics stay.
  TestNode keeping(TestNode::Options{.db = url_, .extra_flags = {"--order-demographics", "keep"}});
  node_.reset();
  keeping.start();
  Order other{.control_id = "ORD0042",
              .placer = "PL42",
              .filler = "FL42",
              .accession = "ACC42",
              .patient_id = "P42"};
  MllpClient client(keeping.mllp_port());
  ASSERT_EQ(testing::ack_code(client.exchange(orm(other)).value_or("")), "AA");
  const auto kept = store_study_of(keeping, dir_.path() / "k", "P42", "DOE^J", 42, "ACC42");
  EXPECT_EQ(link_state(keeping, testing::value_of(kept[0], DCM_StudyInstanceUID)), "linked");
  EXPECT_EQ(names_in_cfind(keeping, dir_.path() / "f3", "P42"), std::vector<std::string>{"DOE^J"});
}

// An order update that names another patient (a trauma patient registered under a temporary ID,
// then identified): the temporary patient's studies and orders move to the order's patient.
TEST_P(Hl7Test, AnOrderUpdateForAnotherPatientMergesTheEarlierPatientIntoIt) {
  Order o{.control_id = "ORD0050",
          .placer = "PL50",
          .filler = "FL50",
          .accession = "ACC50",
          .patient_id = "TMP50",
          .patient_name = "Trauma^Unknown"};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  const auto files =
      store_study_of(*node_, dir_.path() / "s", "TMP50", "Trauma^Unknown", 50, "ACC50");
  const std::string study = testing::value_of(files[0], DCM_StudyInstanceUID);
  EXPECT_EQ(link_state(*node_, study), "linked");

  Order identified = o;
  identified.control_id = "ORD0051";
  identified.order_control = "XO";
  identified.patient_id = "MRN50";
  identified.patient_name = "Roe^Rita";
  const std::string ack = send(orm(identified));
  ASSERT_EQ(testing::ack_code(ack), "AA") << ack << node_->log();

  EXPECT_TRUE(names_in_cfind(*node_, dir_.path() / "f1", "TMP50").empty());
  EXPECT_EQ(names_in_cfind(*node_, dir_.path() / "f2", "MRN50"),
            std::vector<std::string>{"Roe^Rita"});
  EXPECT_EQ(worklist_count({"PatientID=MRN50", "AccessionNumber=ACC50"}), 1u);
  EXPECT_EQ(worklist_count({"PatientID=TMP50"}), 0u);
  EXPECT_EQ(link_state(*node_, study), "linked");
  for (const auto& ff : wado_study(*node_, dir_.path() / "part.dcm", study)) {
    EXPECT_EQ(text_of(*ff->getDataset(), DCM_PatientID), "MRN50");
    EXPECT_EQ(original_value(*ff->getDataset(), DCM_PatientID), "TMP50");
  }
}

// A modality reports its performed step (IHE RAD-6/RAD-7): the worklist item and the order follow
// it, and a finished step takes no more changes.
TEST_P(Hl7Test, MppsInProgressThenCompletedMovesTheWorklistItem) {
  const std::string study_uid = "1.2.826.0.1.3680043.9.7136.3.1";
  Order o{.control_id = "ORD0020",
          .placer = "PL20",
          .filler = "FL20",
          .accession = "ACC20",
          .study_uid = study_uid};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  const std::string sps = "ScheduledProcedureStepSequence[0].";
  // The item's status: the one of SCHEDULED, STARTED, COMPLETED, DISCONTINUED it matches.
  auto status = [&] {
    for (const char* candidate : {"SCHEDULED", "STARTED", "COMPLETED", "DISCONTINUED"})
      if (worklist_count(
              {"AccessionNumber=ACC20", sps + "ScheduledProcedureStepStatus=" + candidate}) == 1)
        return std::string(candidate);
    return std::string("<none>");
  };

  testing::MppsScu scu(node_->dimse_port());
  DcmDataset created;
  DcmItem* scheduled = nullptr;
  created.findOrCreateSequenceItem(DCM_ScheduledStepAttributesSequence, scheduled, 0);
  scheduled->putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
  scheduled->putAndInsertString(DCM_AccessionNumber, "ACC20");
  scheduled->putAndInsertString(DCM_ScheduledProcedureStepID, "SPSACC20");
  created.putAndInsertString(DCM_PatientName, "Doe^Jane");
  created.putAndInsertString(DCM_PatientID, "P12345");
  created.putAndInsertString(DCM_PerformedProcedureStepID, "PPS20");
  created.putAndInsertString(DCM_PerformedStationAETitle, "CT01");
  created.putAndInsertString(DCM_PerformedProcedureStepStartDate, "20261124");
  created.putAndInsertString(DCM_PerformedProcedureStepStartTime, "101500");
  created.putAndInsertString(DCM_Modality, "CT");
  created.putAndInsertString(DCM_PerformedProcedureStepStatus, "IN PROGRESS");
  const std::string mpps_uid = "1.2.826.0.1.3680043.9.7136.4.1";
  ASSERT_EQ(scu.create(mpps_uid, created), 0) << node_->log();
  EXPECT_EQ(status(), "STARTED");
  EXPECT_EQ(scu.create(mpps_uid, created), 0x0111) << "a second N-CREATE of the UID";

  DcmDataset completed;
  completed.putAndInsertString(DCM_PerformedProcedureStepStatus, "COMPLETED");
  completed.putAndInsertString(DCM_PerformedProcedureStepEndDate, "20261124");
  completed.putAndInsertString(DCM_PerformedProcedureStepEndTime, "103000");
  ASSERT_EQ(scu.set(mpps_uid, completed), 0);
  EXPECT_EQ(status(), "COMPLETED");
  EXPECT_EQ(worklist_count({"AccessionNumber=ACC20"}), 0u) << "a completed step leaves the list";

  // Done is done; unknown steps and wrong statuses are refused.
  DcmDataset again;
  again.putAndInsertString(DCM_PerformedProcedureStepStatus, "IN PROGRESS");
  EXPECT_EQ(scu.set(mpps_uid, again), 0x0110);
  EXPECT_EQ(scu.set("1.2.826.0.1.3680043.9.7136.4.404", completed), 0x0112);
  DcmDataset wrong(created);
  wrong.putAndInsertString(DCM_PerformedProcedureStepStatus, "COMPLETED");
  EXPECT_EQ(scu.create("1.2.826.0.1.3680043.9.7136.4.2", wrong), 0x0106);
}

// The scheduled workflow end to end (IHE SWF): an order over MLLP becomes a worklist item, the
// modality stores the study and reports its performed step, and the RIS/EHR is told of the
// progress and, once the study is complete, where its images are; that URL returns the study. A
// destination that is down gets the same messages once it is up, across a restart of the node.
// An ORU^R01 report from the RIS for an order (placer, filler), as IHE RAD-128 shapes it.
std::string report_message(const std::string& control_id, const std::string& placer,
                           const std::string& filler, const std::string& status,
                           const std::string& accession, const std::string& line) {
  return testing::hl7_message(
      {"MSH|^~\\&|RIS|HOSP|PACSNODE|RAD|20261124160000||ORU^R01^ORU_R01|" + control_id + "|P|2.5.1",
       "PID|1||P12345^^^HOSP^MR||Doe^Jane",
       "OBR|1|" + placer + "^EHR|" + filler + "^RIS|CTHEAD^CT head^L|||20261124155500|||||||||||" +
           accession + "|RP0001||||||" + status + "|||||||1234&Brown&Anna",
       "OBX|1|TX|18782-3^Study observation^LN|1|" + line + "||||||" + status,
       "OBX|2|TX|19005-8^Impression^LN|1|Normal CT of the head.||||||" + status});
}

TEST_P(Hl7Test, OrderToWorklistToStudyToNotificationWithAUrlThatReturnsTheStudy) {
  const int ehr_port = testing::free_port(), ris_port = testing::free_port();
  testing::MllpListener ehr(ehr_port);
  node_ = std::make_unique<TestNode>(TestNode::Options{
      .db = url_,
      .extra_flags = {"--hl7-destination", "EHR=127.0.0.1:" + std::to_string(ehr_port),
                      "--hl7-destination", "RIS=127.0.0.1:" + std::to_string(ris_port),
                      "--study-quiet-seconds", "1", "--worklist-station-aet", "CT=CT01"}});
  node_->start();

  const std::string study_uid = "1.2.826.0.1.3680043.9.7136.5.1";
  Order o{.control_id = "ORD0030",
          .placer = "PL30",
          .filler = "FL30",
          .accession = "ACC30",
          .study_uid = study_uid};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  ASSERT_EQ(worklist_count({"ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT01",
                            "AccessionNumber", "StudyInstanceUID"}),
            1u);

  // The modality: MPPS IN PROGRESS, the images (with the worklist's UID and accession), then
  // MPPS COMPLETED.
  testing::MppsScu scu(node_->dimse_port());
  DcmDataset step;
  DcmItem* scheduled = nullptr;
  step.findOrCreateSequenceItem(DCM_ScheduledStepAttributesSequence, scheduled, 0);
  scheduled->putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
  scheduled->putAndInsertString(DCM_AccessionNumber, "ACC30");
  step.putAndInsertString(DCM_PerformedProcedureStepStatus, "IN PROGRESS");
  const std::string mpps_uid = "1.2.826.0.1.3680043.9.7136.6.1";
  ASSERT_EQ(scu.create(mpps_uid, step), 0);
  const auto files = testing::generate_corpus(
      dir_.path() / "study", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "3", "--rows", "16", "--columns", "16", "--seed", "30"});
  for (const auto& f : files) {
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(f.c_str()).good());
    ff.getDataset()->putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
    ff.getDataset()->putAndInsertString(DCM_AccessionNumber, "ACC30");
    ff.getDataset()->putAndInsertString(DCM_PatientID, "P12345");
    ASSERT_TRUE(ff.saveFile(f.c_str(), EXS_LittleEndianExplicit).good());
  }
  ASSERT_EQ(testing::storescu(node_->dimse_port(), {(dir_.path() / "study").string()}).exit_code,
            0);
  DcmDataset done;
  done.putAndInsertString(DCM_PerformedProcedureStepStatus, "COMPLETED");
  ASSERT_EQ(scu.set(mpps_uid, done), 0);

  // The EHR hears: in progress, completed, and the study with its URL.
  ASSERT_TRUE(ehr.wait_for("ORC|SC|PL30|FL30||IP", std::chrono::seconds(20))) << node_->log();
  ASSERT_TRUE(ehr.wait_for("ORC|SC|PL30|FL30||CM", std::chrono::seconds(20)));
  const auto oru = ehr.wait_for("ORU^R01", std::chrono::seconds(20));
  ASSERT_TRUE(oru) << node_->log();
  EXPECT_NE(oru->find("|ACC30|"), std::string::npos) << *oru;
  EXPECT_NE(oru->find(study_uid), std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*oru, m, std::regex("OBX\\|[0-9]+\\|RP\\|[^|]*\\|\\|([^^|]+)")))
      << *oru;
  const std::string url = m[1].str();
  const std::string prefix = "http://127.0.0.1:" + std::to_string(node_->http_port());
  ASSERT_EQ(url.rfind(prefix, 0), 0u) << url;
  const auto study =
      testing::http_request(node_->http_port(), "GET", url.substr(prefix.size()), {});
  ASSERT_EQ(study.status, 200);
  std::string why;
  const auto parts = testing::parse_multipart_strict(
      study.body, testing::boundary_of(study.header("content-type")), why);
  ASSERT_TRUE(parts) << why;
  EXPECT_EQ(parts->size(), 3u) << "the URL returns the study";
  // And the web UI's launch URL for it (the viewer opens the study: tests/browser).
  ASSERT_TRUE(
      std::regex_search(*oru, m, std::regex("OBX\\|[0-9]+\\|RP\\|VIEWER[^|]*\\|\\|([^^|]+)")))
      << *oru;
  EXPECT_EQ(m[1].str(), prefix + "/ui/viewer?study=" + study_uid);
  const auto viewer =
      testing::http_request(node_->http_port(), "GET", m[1].str().substr(prefix.size()), {});
  EXPECT_EQ(viewer.status, 200);
  EXPECT_EQ(viewer.header("content-type"), "text/html; charset=utf-8");
  // The study was announced once, though MPPS COMPLETED and the quiet period both complete it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  int announcements = 0;
  for (const auto& message : ehr.messages())
    announcements += message.find("ORU^R01") != std::string::npos;
  EXPECT_EQ(announcements, 1);

  // The RIS was down: its messages wait, retried, and arrive once it is up.
  auto outbox = [&](const std::string& state) {
    return testing::parse_json(
               testing::http_request(node_->http_port(), "GET", "/api/outbox?state=" + state, {})
                   .body)
        .as_array();
  };
  const auto waiting = outbox("pending");
  ASSERT_EQ(waiting.size(), 3u) << "IP, CM and the study for the RIS";
  for (const auto& item : waiting) {
    EXPECT_EQ(item.at("destination"), "RIS");
    EXPECT_GE(item.at("attempts").as_int64(), 1);
    EXPECT_FALSE(item.at("lastError").as_string().empty());
  }
  // The outbox is in the index: a node killed meanwhile still delivers after its restart.
  node_->kill_hard();
  node_->start();
  ASSERT_EQ(outbox("pending").size(), 3u);
  testing::MllpListener ris(ris_port);
  EXPECT_TRUE(ris.wait_for("ORU^R01", std::chrono::seconds(30))) << node_->log();
  for (int i = 0; i < 100 && !outbox("pending").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(outbox("pending").empty());
  EXPECT_EQ(outbox("sent").size(), 6u);

  // The report comes; the order's timeline then has every step, in order, with its latencies.
  ASSERT_EQ(testing::ack_code(send(
                report_message("ORU0030", "PL30", "FL30", "F", "ACC30", "No acute abnormality."))),
            "AA");
  const auto got =
      testing::http_request(node_->http_port(), "GET", "/api/timeline?accession=ACC30", {});
  ASSERT_EQ(got.status, 200) << got.body;
  const json::value timeline = testing::parse_json(got.body);
  EXPECT_EQ(timeline.at("studyInstanceUID").as_string(), study_uid);
  std::vector<std::string> steps;
  std::int64_t previous_at = 0;
  for (const auto& e : timeline.at("events").as_array()) {
    const std::string step(e.at("step").as_string());
    if (steps.empty() || steps.back() != step) steps.push_back(step);
    EXPECT_GE(e.at("atMs").as_int64(), previous_at) << "in time order";
    previous_at = e.at("atMs").as_int64();
    if (step == "order-received") continue;
    const std::int64_t since_order = e.at("sinceOrderMs").as_int64();
    EXPECT_GE(since_order, 0) << step;
    EXPECT_LT(since_order, 300000) << step << ": within the test's few minutes";
    if (step == "worklist-queried") {
      EXPECT_EQ(e.at("detail").as_string(), "FINDSCU");
    }
  }
  // The study completes on MPPS COMPLETED, its last instance is kept to the second, and the
  // notifications go to two destinations (the RIS only after the restart): compare as a set of
  // milestones in their order.
  const std::vector<std::string> milestones = {
      "order-received", "worklist-queried", "mpps-in-progress",   "first-instance",
      "mpps-completed", "study-complete",   "notification-acked", "report-received"};
  auto at = steps.begin();
  for (const std::string& milestone : milestones) {
    at = std::find(at, steps.end(), milestone);
    EXPECT_NE(at, steps.end()) << milestone << " missing or out of order in " << got.body;
  }
  EXPECT_NE(std::find(steps.begin(), steps.end(), "last-instance"), steps.end()) << got.body;
  EXPECT_EQ(
      testing::http_request(node_->http_port(), "GET", "/api/timeline?accession=NONE", {}).status,
      404);
  const auto metrics = testing::http_request(node_->http_port(), "GET", "/metrics", {});
  EXPECT_NE(metrics.body.find("pacsnode_workflow_step_seconds_bucket{step=\"report-received\""),
            std::string::npos);
}

// dicom3tools' dciodvfy (an independent IOD checker) on a file: its Error lines, or "" when none.
std::string iod_errors(const fs::path& file) {
  const auto r = testing::run({"dciodvfy", file.string()}, std::chrono::seconds(60));
  // It names the IOD it checked against on a line of its own; without that it did not run.
  if (r.output.find("SR") == std::string::npos && r.output.find("PDF") == std::string::npos)
    return "dciodvfy did not check the file (run scripts/setup.sh): " + r.output;
  std::string errors;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("Error", 0) == 0) errors += line + "\n";
  return errors;
}

// The stored files of the node with this SOP class.
std::vector<fs::path> stored_of_class(const TestNode& node, const std::string& sop_class) {
  std::vector<fs::path> out;
  for (const auto& f : testing::files_below(node.data_dir() / "objects"))
    if (testing::identity_of(f).sop_class_uid == sop_class) out.push_back(f);
  return out;
}

// ORU^R01 reports are kept as the study's report (JSON over HTTP) and carried into the study as a
// Basic Text SR that QIDO/WADO and C-FIND see; a correction replaces the report and its SR.
TEST_P(Hl7Test, AReportIsStoredAsAnSrInItsStudyAndACorrectionReplacesIt) {
  const std::string study_uid = "1.2.826.0.1.3680043.9.7136.7.1";
  Order o{.control_id = "ORD0040",
          .placer = "PL40",
          .filler = "FL40",
          .accession = "ACC40",
          .study_uid = study_uid};
  ASSERT_EQ(testing::ack_code(send(orm(o))), "AA");
  const auto files = testing::generate_corpus(
      dir_.path() / "study", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "2", "--rows", "16", "--columns", "16", "--seed", "40"});
  for (const auto& f : files) {
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(f.c_str()).good());
    ff.getDataset()->putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
    ff.getDataset()->putAndInsertString(DCM_AccessionNumber, "ACC40");
    ASSERT_TRUE(ff.saveFile(f.c_str(), EXS_LittleEndianExplicit).good());
  }
  ASSERT_EQ(testing::storescu(node_->dimse_port(), {(dir_.path() / "study").string()}).exit_code,
            0);

  auto oru = [](const std::string& control_id, const std::string& status,
                const std::string& accession, const std::string& line) {
    return report_message(control_id, "PL40", "FL40", status, accession, line);
  };
  ASSERT_EQ(testing::ack_code(send(oru("ORU0001", "F", "ACC40", "No acute abnormality."))), "AA")
      << node_->log();
  auto report = [&] {
    return testing::parse_json(
        testing::http_request(node_->http_port(), "GET", "/api/reports/" + study_uid, {}).body);
  };
  auto first = report();
  EXPECT_EQ(first.at("status"), "F");
  EXPECT_EQ(first.at("text"), "No acute abnormality.\nNormal CT of the head.");
  EXPECT_EQ(first.at("observer"), "Brown^Anna");
  const std::string first_sr(first.at("srInstanceUID").as_string());

  // The SR is in the study, for DICOMweb and DIMSE alike.
  auto sr_instances = [&] {
    auto r = testing::http_request(
        node_->http_port(), "GET",
        "/dicom-web/studies/" + study_uid + "/instances?SOPClassUID=1.2.840.10008.5.1.4.1.1.88.11",
        {});
    return testing::parse_json(r.body).as_array();
  };
  auto srs = sr_instances();
  ASSERT_EQ(srs.size(), 1u);
  const auto sr_series = dir_.path() / "srfind";
  fs::create_directories(sr_series);
  testing::run_dcmtk_tool({"findscu", "-S", "-aec", "PACSNODE", "-X", "-od", sr_series.string()},
                          {"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + study_uid,
                           "Modality=SR", "SeriesInstanceUID"},
                          node_->dimse_port());
  EXPECT_EQ(testing::files_below(sr_series).size(), 1u);
  auto sr_metadata = testing::http_request(
      node_->http_port(), "GET",
      "/dicom-web/studies/" + study_uid + "/series/" +
          std::string(srs[0].at("0020000E").at("Value").as_array()[0].as_string()) + "/instances/" +
          first_sr + "/metadata",
      {});
  EXPECT_NE(sr_metadata.body.find("No acute abnormality."), std::string::npos) << sr_metadata.body;
  const auto sr_files = stored_of_class(*node_, "1.2.840.10008.5.1.4.1.1.88.11");
  ASSERT_EQ(sr_files.size(), 1u);
  EXPECT_EQ(iod_errors(sr_files[0]), "") << "dciodvfy finds the SR valid";

  // A correction replaces the report and its SR.
  ASSERT_EQ(testing::ack_code(send(oru("ORU0002", "C", "ACC40", "Small old infarct."))), "AA");
  auto corrected = report();
  EXPECT_EQ(corrected.at("status"), "C");
  EXPECT_NE(std::string(corrected.at("text").as_string()).find("Small old infarct."),
            std::string::npos);
  srs = sr_instances();
  ASSERT_EQ(srs.size(), 1u) << "one SR: the corrected one";
  EXPECT_EQ(std::string(srs[0].at("00080018").at("Value").as_array()[0].as_string()),
            std::string(corrected.at("srInstanceUID").as_string()));
  EXPECT_NE(std::string(corrected.at("srInstanceUID").as_string()), first_sr);

  // A report sent as a PDF: carried as an Encapsulated PDF with the same bytes, in place of the SR.
  const std::string pdf = "%PDF-1.4\n% synthetic test document\n%%EOF\n";
  OFString encoded;
  OFStandard::encodeBase64(reinterpret_cast<const unsigned char*>(pdf.data()), pdf.size(), encoded);
  const std::string pdf_oru = testing::hl7_message(
      {"MSH|^~\\&|RIS|HOSP|PACSNODE|RAD|20261124170000||ORU^R01^ORU_R01|ORU0004|P|2.5.1",
       "PID|1||P12345^^^HOSP^MR||Doe^Jane",
       "OBR|1|PL40^EHR|FL40^RIS|CTHEAD^CT head^L|||20261124165500|||||||||||ACC40|RP0001||||||C",
       "OBX|1|ED|18748-4^Diagnostic Imaging Report^LN|1|^Application^PDF^Base64^" +
           std::string(encoded.c_str()) + "||||||C"});
  ASSERT_EQ(testing::ack_code(send(pdf_oru)), "AA") << node_->log();
  auto as_pdf = report();
  EXPECT_EQ(as_pdf.at("document"), "Encapsulated PDF");
  EXPECT_TRUE(sr_instances().empty()) << "the SR was replaced";
  const std::string pdf_uid(as_pdf.at("srInstanceUID").as_string());
  auto pdfs = testing::parse_json(
                  testing::http_request(node_->http_port(), "GET",
                                        "/dicom-web/studies/" + study_uid +
                                            "/instances?SOPClassUID=1.2.840.10008.5.1.4.1.1.104.1",
                                        {})
                      .body)
                  .as_array();
  ASSERT_EQ(pdfs.size(), 1u);
  const auto doc =
      testing::http_request(node_->http_port(), "GET", "/dicom-web/studies/" + study_uid, {});
  std::string why_pdf;
  const auto doc_parts = testing::parse_multipart_strict(
      doc.body, testing::boundary_of(doc.header("content-type")), why_pdf);
  ASSERT_TRUE(doc_parts) << why_pdf;
  bool found = false;
  for (const auto& part : *doc_parts) {
    const auto file = dir_.path() / "doc.dcm";
    testing::write_all(file, part.body);
    if (testing::identity_of(file).sop_instance_uid != pdf_uid) continue;
    found = true;
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(file.c_str()).good());
    const Uint8* bytes = nullptr;
    unsigned long length = 0;
    ASSERT_TRUE(
        ff.getDataset()->findAndGetUint8Array(DCM_EncapsulatedDocument, bytes, &length).good());
    ASSERT_GE(length, pdf.size());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes), pdf.size()), pdf);
    EXPECT_EQ(testing::value_of(file, DCM_MIMETypeOfEncapsulatedDocument), "application/pdf");
  }
  EXPECT_TRUE(found) << "the PDF is retrievable with the study";
  const auto pdf_files = stored_of_class(*node_, "1.2.840.10008.5.1.4.1.1.104.1");
  ASSERT_EQ(pdf_files.size(), 1u);
  EXPECT_EQ(iod_errors(pdf_files[0]), "") << "dciodvfy finds the Encapsulated PDF valid";

  // A report for an order nobody placed: AE 204; the same message again: its first answer.
  std::string stray = oru("ORU0003", "F", "ACC404", "x");
  stray.replace(stray.find("PL40^EHR|FL40^RIS"), 17, "PL99^EHR|FL99^RIS");
  const std::string unknown = send(stray);
  EXPECT_EQ(testing::ack_code(unknown), "AE") << unknown;
  EXPECT_EQ(err_code(unknown), "204");
}

INSTANTIATE_TEST_SUITE_P(Backends, Hl7Test, ::testing::Values("sqlite", "postgresql"));

// A peer that keeps sending but never completes a message (noise, or a message without end) is
// closed once the idle time passes: it must not hold one of the limited connections for ever.
TEST(Hl7Idle, AConnectionThatDripsButBringsNoMessageIsClosed) {
  TestNode node({.db = "sqlite", .extra_flags = {"--mllp-idle-seconds", "1"}});
  node.start();
  MllpClient noise(node.mllp_port()), endless(node.mllp_port());
  ASSERT_TRUE(endless.send_raw("\x0bMSH|^~\\&|RIS|HOSP|PACSNODE|RAD|20261124093000||ORM^O01|"));
  const auto start = std::chrono::steady_clock::now();
  bool noise_open = true, endless_open = true;
  // Bounded: 40 drips of 100 ms each.
  for (int drip = 0; drip < 40 && (noise_open || endless_open); ++drip) {
    noise_open = noise_open && noise.send_raw("x");
    endless_open = endless_open && endless.send_raw("PID|1\r");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(noise.closed_by_peer(std::chrono::seconds(2)));
  EXPECT_TRUE(endless.closed_by_peer(std::chrono::seconds(2)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // A connection that brings messages stays open past the idle time.
  MllpClient busy(node.mllp_port());
  for (int i = 0; i < 4; ++i) {
    Order order{.control_id = "IDLE" + std::to_string(i),
                .placer = "IP" + std::to_string(i),
                .filler = "IF" + std::to_string(i),
                .accession = "IA" + std::to_string(i)};
    ASSERT_EQ(testing::ack_code(busy.exchange(orm(order)).value_or("")), "AA") << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
  }
  EXPECT_NE(node.log().find("no message for 1 s, closing"), std::string::npos);
}

}  // namespace
}  // namespace pacs
