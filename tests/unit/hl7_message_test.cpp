// HL7 v2 message parsing, writing and escaping, on synthetic messages of the shapes the bridge
// receives (ORM, OMI, ORU, ADT, Z-segments, unusual delimiters).
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>

#include "hl7bridge/message.h"

namespace pacs::hl7 {
namespace {

// The segments, each followed by `terminator` (CR is what the standard writes).
std::string join(std::initializer_list<std::string_view> lines,
                 std::string_view terminator = "\r") {
  std::string text;
  for (const std::string_view line : lines) {
    text += line;
    text += terminator;
  }
  return text;
}

Message parse_or_fail(std::string_view text) {
  auto message = Message::parse(text);
  if (!message) {
    ADD_FAILURE() << "parse failed: " << message.error().message;
    return Message{};
  }
  return std::move(*message);
}

void expect_malformed(std::string_view text, std::string_view message_part) {
  const auto message = Message::parse(text);
  ASSERT_FALSE(message) << "parsed: " << text;
  EXPECT_EQ(message.error().code, ErrorCode::Malformed);
  EXPECT_NE(message.error().message.find(message_part), std::string::npos)
      << "error text: " << message.error().message;
}

const std::string kOrmO01 = join({
    R"(MSH|^~\&|RIS|HOSP|PACSNODE|RAD|20261124093000||ORM^O01|RIS0004711|P|2.3.1||||||8859/1)",
    R"(PID|1||P12345^^^HOSP^MR||Doe^Jane^A^^Mrs||19700101|F|||Main St 1^^Town^^1000)",
    R"(PV1|1|O|RAD^XR1^^HOSP|||||1234^Smith^John^^^Dr|||||||||||V98765^^^HOSP^VN)",
    R"(ORC|NW|PL1001^EHR|FL2001^RIS||SC||^^^20261124100000^^R||20261124093000|||1234^Smith^John)",
    R"(OBR|1|PL1001^EHR|FL2001^RIS|CTHEAD^CT head^L||||||||||||1234^Smith^John||ACC0001|RP0001|SPS0001||||CT|||^^^20261124100000^^R)",
    R"(ZDS|1.2.826.0.1.3680043.9.7136.1.1^RIS^Application^DICOM)",
});

TEST(Hl7Message, OrmO01V231RoundTripsAndReadsOrderFields) {
  const Message message = parse_or_fail(kOrmO01);
  EXPECT_EQ(message.write(), kOrmO01);
  ASSERT_EQ(message.segments().size(), 6u);
  EXPECT_EQ(message.message_type(), "ORM");
  EXPECT_EQ(message.trigger_event(), "O01");
  EXPECT_EQ(message.control_id(), "RIS0004711");
  EXPECT_EQ(message.processing_id(), "P");
  EXPECT_EQ(message.version(), "2.3.1");
  EXPECT_EQ(message.charset(), "8859/1");
  EXPECT_EQ(message.sending_application(), "RIS");
  EXPECT_EQ(message.sending_facility(), "HOSP");

  const Segment* pid = message.find("PID");
  ASSERT_NE(pid, nullptr);
  EXPECT_EQ(pid->value(3, 1), "P12345");
  EXPECT_EQ(pid->value(3, 4), "HOSP");
  EXPECT_EQ(pid->value(3, 5), "MR");
  EXPECT_EQ(pid->value(5, 1), "Doe");
  EXPECT_EQ(pid->value(5, 2), "Jane");
  EXPECT_EQ(pid->value(5, 5), "Mrs");
  EXPECT_EQ(pid->value(8), "F");

  const Segment* orc = message.find("ORC");
  ASSERT_NE(orc, nullptr);
  EXPECT_EQ(orc->value(1), "NW");
  EXPECT_EQ(orc->value(7, 4), "20261124100000");  // TQ-4 start date/time
  EXPECT_EQ(orc->value(7, 6), "R");               // TQ-6 priority

  const Segment* obr = message.find("OBR");
  ASSERT_NE(obr, nullptr);
  EXPECT_EQ(obr->value(4, 2), "CT head");
  EXPECT_EQ(obr->value(16, 2), "Smith");
  EXPECT_EQ(obr->value(18), "ACC0001");
  EXPECT_EQ(obr->value(19), "RP0001");
  EXPECT_EQ(obr->value(20), "SPS0001");
  EXPECT_EQ(obr->value(24), "CT");
  EXPECT_EQ(obr->value(27, 6), "R");
  EXPECT_EQ(obr->field_count(), 27u);

  const Segment* zds = message.find("ZDS");
  ASSERT_NE(zds, nullptr);
  EXPECT_EQ(zds->value(1, 1), "1.2.826.0.1.3680043.9.7136.1.1");
  EXPECT_EQ(zds->value(1, 4), "DICOM");
}

TEST(Hl7Message, OmiO23V251ReadsIpcAndTq1) {
  const std::string text = join({
      R"(MSH|^~\&|RIS|HOSP|PACSNODE|RAD|20261124093500||OMI^O23^OMI_O23|RIS0004712|P|2.5.1||||||UNICODE UTF-8)",
      R"(PID|1||P22222^^^HOSP^MR||Roe^Richard^^Jr^Mr||19650312|M)",
      R"(PV1|1|I|WARD3^201^1^HOSP)",
      R"(ORC|NW|PL1002^EHR|FL2002^RIS||SC)",
      R"(TQ1|1||||||20261124110000||S)",
      R"(OBR|1|PL1002^EHR|FL2002^RIS|MRKNEE^MR knee^L)",
      R"(IPC|ACC0002^RIS|RP0002^RIS|1.2.826.0.1.3680043.9.7136.2.1|SPS0002^RIS|MR^MR^DCM||MRI1|MRSUITE|MR1AE)",
  });
  const Message message = parse_or_fail(text);
  EXPECT_EQ(message.write(), text);
  EXPECT_EQ(message.message_type(), "OMI");
  EXPECT_EQ(message.trigger_event(), "O23");
  ASSERT_NE(message.find("MSH"), nullptr);
  EXPECT_EQ(message.find("MSH")->value(9, 3), "OMI_O23");
  EXPECT_EQ(message.version(), "2.5.1");
  EXPECT_EQ(message.charset(), "UNICODE UTF-8");

  const Segment* ipc = message.find("IPC");
  ASSERT_NE(ipc, nullptr);
  EXPECT_EQ(ipc->value(1), "ACC0002");
  EXPECT_EQ(ipc->value(1, 2), "RIS");
  EXPECT_EQ(ipc->value(3), "1.2.826.0.1.3680043.9.7136.2.1");
  EXPECT_EQ(ipc->value(5, 3), "DCM");
  EXPECT_EQ(ipc->value(6), "");
  EXPECT_EQ(ipc->value(9), "MR1AE");
  const Segment* tq1 = message.find("TQ1");
  ASSERT_NE(tq1, nullptr);
  EXPECT_EQ(tq1->value(7), "20261124110000");
  EXPECT_EQ(tq1->value(9), "S");
  const Segment* pid = message.find("PID");
  ASSERT_NE(pid, nullptr);
  EXPECT_EQ(pid->value(5, 4), "Jr");  // XPN-4 suffix
  EXPECT_EQ(pid->value(5, 5), "Mr");  // XPN-5 prefix
}

TEST(Hl7Message, OruR01UnescapesObxText) {
  const std::string text = join({
      R"(MSH|^~\&|RIS|HOSP|PACSNODE|RAD|20261124160000||ORU^R01^ORU_R01|RIS0004799|P|2.5.1)",
      R"(PID|1||P12345^^^HOSP^MR||Doe^Jane)",
      R"(OBR|1|PL1001^EHR|FL2001^RIS|CTHEAD^CT head^L|||20261124155500|||||||||||ACC0001|RP0001||||||F|||||||1234&Brown&Anna)",
      R"(OBX|1|FT|18782-3^Study observation^LN|1|Findings:\.br\Effusion \T\ synovitis, grade 2\S\3.\X0D0A\Stored at C:\E\reports\E\||||||F)",
      R"(OBX|2|TX|19005-8^Impression^LN|1|Left \F\ right \R\ both||||||F)",
      R"(OBX|3|TX|19005-8^Impression^LN|2|No acute abnormality.||||||F)",
  });
  const Message message = parse_or_fail(text);
  EXPECT_EQ(message.write(), text);
  const auto observations = message.all("OBX");
  ASSERT_EQ(observations.size(), 3u);
  EXPECT_EQ(observations[0]->value(5),
            "Findings:\nEffusion & synovitis, grade 2^3.\r\nStored at C:\\reports\\");
  EXPECT_EQ(observations[1]->value(5), "Left | right ~ both");
  EXPECT_EQ(observations[2]->value(5), "No acute abnormality.");
  EXPECT_EQ(observations[2]->value(3, 2), "Impression");
  EXPECT_EQ(observations[0]->value(11), "F");
  // The raw text keeps the escapes: a relay would forward it unchanged.
  EXPECT_EQ(observations[1]->raw(5), R"(Left \F\ right \R\ both)");

  const Segment* obr = message.find("OBR");
  ASSERT_NE(obr, nullptr);
  EXPECT_EQ(obr->value(32, 1, 1), "1234");  // OBR-32 principal result interpreter (NDL: CNN&...)
  EXPECT_EQ(obr->value(32, 1, 2), "Brown");
  EXPECT_EQ(obr->value(32, 1, 3), "Anna");
  EXPECT_EQ(obr->value(32, 1, 4), "");
  EXPECT_EQ(obr->value(25), "F");
}

TEST(Hl7Message, AdtA08KeepsExplicitNullApartFromEmpty) {
  const std::string text = join({
      R"(MSH|^~\&|EHR|HOSP|PACSNODE|RAD|20261124120000||ADT^A08^ADT_A01|EHR0000815|P|2.5.1)",
      R"(EVN|A08|20261124120000)",
      R"(PID|1||P12345^^^HOSP^MR||Doe^Jane^A^^Mrs||19700101|F|||Main St 2^^Town^^1000||"")",
      R"(PV1|1|O)",
  });
  const Message message = parse_or_fail(text);
  EXPECT_EQ(message.write(), text);
  EXPECT_EQ(message.trigger_event(), "A08");
  const Segment* pid = message.find("PID");
  ASSERT_NE(pid, nullptr);
  EXPECT_EQ(pid->value(13), "\"\"");  // explicit null: the caller deletes the stored value
  EXPECT_EQ(pid->value(12), "");      // not sent: the caller leaves it as it is
  EXPECT_EQ(pid->field_count(), 13u);
  EXPECT_EQ(pid->value(11, 3), "Town");
  EXPECT_EQ(message.find("EVN")->value(1), "A08");
}

TEST(Hl7Message, AdtA40ReadsMrg) {
  const std::string text = join({
      R"(MSH|^~\&|EHR|HOSP|PACSNODE|RAD|20261124130000||ADT^A40^ADT_A39|EHR0000816|P|2.5.1)",
      R"(EVN|A40|20261124130000)",
      R"(PID|1||P12345^^^HOSP^MR||Doe^Jane)",
      R"(MRG|P99999^^^HOSP^MR||V11111^^^HOSP^VN)",
  });
  const Message message = parse_or_fail(text);
  EXPECT_EQ(message.write(), text);
  EXPECT_EQ(message.message_type(), "ADT");
  EXPECT_EQ(message.trigger_event(), "A40");
  const Segment* mrg = message.find("MRG");
  ASSERT_NE(mrg, nullptr);
  EXPECT_EQ(mrg->value(1), "P99999");
  EXPECT_EQ(mrg->value(1, 4), "HOSP");
  EXPECT_EQ(mrg->value(3), "V11111");
  EXPECT_EQ(mrg->value(3, 5), "VN");
}

TEST(Hl7Message, RepeatedPatientIdentifiers) {
  const std::string text = join({
      R"(MSH|^~\&|EHR|HOSP|PACSNODE|RAD|20261124130500||ADT^A04^ADT_A01|EHR0000817|P|2.5.1)",
      R"(PID|1||P12345^^^HOSP^MR~9876543210^^^NHS&2.16.840.1.113883.2.1.4.1&ISO^NH~~X1^^^LAB^PI||Doe^Jane)",
  });
  const Message message = parse_or_fail(text);
  EXPECT_EQ(message.write(), text);
  const Segment* pid = message.find("PID");
  ASSERT_NE(pid, nullptr);
  EXPECT_EQ(pid->repetition_count(3), 4u);
  EXPECT_EQ(pid->value(3, 1, 1, 0), "P12345");
  EXPECT_EQ(pid->value(3, 5, 1, 0), "MR");
  EXPECT_EQ(pid->value(3, 1, 1, 1), "9876543210");
  EXPECT_EQ(pid->value(3, 4, 1, 1), "NHS");
  EXPECT_EQ(pid->value(3, 4, 2, 1), "2.16.840.1.113883.2.1.4.1");
  EXPECT_EQ(pid->value(3, 4, 3, 1), "ISO");
  EXPECT_EQ(pid->value(3, 1, 1, 2), "");  // an empty repetition
  EXPECT_EQ(pid->value(3, 1, 1, 3), "X1");
  EXPECT_EQ(pid->value(3, 5, 1, 3), "PI");
  EXPECT_EQ(pid->value(3, 1, 1, 4), "");  // beyond the last repetition
  EXPECT_EQ(pid->repetition_count(5), 1u);
  EXPECT_EQ(pid->repetition_count(4), 0u);
  EXPECT_EQ(pid->repetition_count(40), 0u);
}

TEST(Hl7Message, UnknownZSegmentsAreKeptInOrder) {
  const std::string text = join({
      R"(MSH|^~\&|RIS|HOSP|PACSNODE|RAD|20261124093000||ORM^O01|RIS0004713|P|2.3.1)",
      R"(ZPI|local^value|second)",
      R"(PID|1||P12345^^^HOSP^MR)",
      R"(Z01|x)",
      R"(ZZZ)",
      R"(ZPI|another)",
      R"(ZX9|)",
  });
  const Message message = parse_or_fail(text);
  EXPECT_EQ(message.write(), text);
  ASSERT_EQ(message.segments().size(), 7u);
  EXPECT_EQ(message.segments()[1].id(), "ZPI");
  EXPECT_EQ(message.segments()[3].id(), "Z01");
  EXPECT_EQ(message.segments()[4].field_count(), 0u);
  EXPECT_EQ(message.segments()[6].field_count(), 1u);  // "ZX9|": one empty field
  EXPECT_EQ(message.all("ZPI").size(), 2u);
  ASSERT_NE(message.find("ZPI", 1), nullptr);
  EXPECT_EQ(message.find("ZPI", 1)->value(1), "another");
  EXPECT_EQ(message.find("ZPI")->value(1, 2), "value");
}

TEST(Hl7Message, LfEndingsParseAndWriteWithCr) {
  const std::initializer_list<std::string_view> lines = {
      R"(MSH|^~\&|EHR|HOSP|PACSNODE|RAD|20261124120000||ADT^A08^ADT_A01|EHR0000818|P|2.5.1)",
      R"(EVN|A08)",
      R"(PID|1||P12345^^^HOSP^MR||Doe^Jane)",
  };
  const Message message = parse_or_fail(join(lines, "\n"));
  EXPECT_EQ(message.segments().size(), 3u);
  EXPECT_EQ(message.write(), join(lines));
  EXPECT_EQ(message.find("PID")->value(5, 2), "Jane");
}

TEST(Hl7Message, CrlfEndingsAndMixturesParse) {
  const std::initializer_list<std::string_view> lines = {
      R"(MSH|^~\&|EHR|HOSP|PACSNODE|RAD|20261124120000||ADT^A08^ADT_A01|EHR0000819|P|2.5.1)",
      R"(EVN|A08)",
      R"(PID|1||P12345^^^HOSP^MR||Doe^Jane)",
      R"(PV1|1|O)",
  };
  EXPECT_EQ(parse_or_fail(join(lines, "\r\n")).write(), join(lines));
  const std::string mixed = std::string(*lines.begin()) + "\r\n" + std::string(lines.begin()[1]) +
                            "\n" + std::string(lines.begin()[2]) + "\r" +
                            std::string(lines.begin()[3]);  // and no final terminator
  const Message message = parse_or_fail(mixed);
  EXPECT_EQ(message.segments().size(), 4u);
  EXPECT_EQ(message.write(), join(lines));
}

TEST(Hl7Message, BlankLinesAreSkipped) {
  const Message message = parse_or_fail(
      "\r\n\r\nMSH|^~\\&|EHR|HOSP|||20261124||ADT^A08|C1|P|2.5.1\r\r  \nPID|1\n\n\t\r\n");
  ASSERT_EQ(message.segments().size(), 2u);
  EXPECT_EQ(message.segments()[1].id(), "PID");
  EXPECT_EQ(message.write(), "MSH|^~\\&|EHR|HOSP|||20261124||ADT^A08|C1|P|2.5.1\rPID|1\r");
}

TEST(Hl7Message, NonStandardEncodingCharacters) {
  // Field '$', component '%', repetition '*', escape '!', subcomponent '@': the usual delimiters
  // are plain data here.
  const std::string text = join({
      R"(MSH$%*!@$RIS$HOSP$PACSNODE$RAD$20261124140000$$ORM%O01$RIS0004720$P$2.3.1)",
      R"(PID$1$$P55555%%%HOSP%MR*P55556%%%HOSP@1.2.3@ISO%PI$$Doe%John$$$M)",
      R"(OBX$1$TX$CODE%Text$1$a|b^c\d~e&f !F! !S! !T! !R! !E!$$$$$$F)",
  });
  const Message message = parse_or_fail(text);
  EXPECT_EQ(message.write(), text);
  const Delimiters expected{'$', '%', '*', '!', '@', ""};
  EXPECT_EQ(message.delimiters(), expected);
  EXPECT_EQ(message.message_type(), "ORM");
  EXPECT_EQ(message.trigger_event(), "O01");
  EXPECT_EQ(message.control_id(), "RIS0004720");
  const Segment* msh = message.find("MSH");
  ASSERT_NE(msh, nullptr);
  EXPECT_EQ(msh->raw(1), "$");
  EXPECT_EQ(msh->raw(2), "%*!@");
  const Segment* pid = message.find("PID");
  ASSERT_NE(pid, nullptr);
  EXPECT_EQ(pid->repetition_count(3), 2u);
  EXPECT_EQ(pid->value(3, 1, 1, 1), "P55556");
  EXPECT_EQ(pid->value(3, 4, 2, 1), "1.2.3");
  EXPECT_EQ(pid->value(5, 2), "John");
  EXPECT_EQ(pid->value(8), "M");
  const Segment* obx = message.find("OBX");
  ASSERT_NE(obx, nullptr);
  EXPECT_EQ(obx->value(5), R"(a|b^c\d~e&f $ % @ * !)");
  EXPECT_EQ(obx->value(11), "F");
}

TEST(Hl7Message, TruncationCharacterOfV27IsKept) {
  const std::string text = join({
      R"(MSH|^~\&#|EHR|HOSP|PACSNODE|RAD|20261124150000||ADT^A08^ADT_A01|EHR0000820|P|2.7)",
      R"(PID|1||P12345^^^HOSP^MR||Doe\P\Smith^Jane)",
  });
  const Message message = parse_or_fail(text);
  EXPECT_EQ(message.write(), text);
  EXPECT_EQ(message.delimiters().extra, "#");
  EXPECT_EQ(message.delimiters().encoding_characters(), "^~\\&#");
  ASSERT_NE(message.find("MSH"), nullptr);
  EXPECT_EQ(message.find("MSH")->raw(2), "^~\\&#");
  EXPECT_EQ(message.find("MSH")->raw(3), "EHR");
  EXPECT_EQ(message.find("PID")->value(5), "Doe#Smith");
  EXPECT_EQ(escape("A#B", message.delimiters()), "A\\P\\B");
}

TEST(Hl7Message, MshFieldNumberingFollowsTheStandard) {
  const Message message =
      parse_or_fail("MSH|^~\\&|APP|FAC|RAPP|RFAC|20261124||ADT^A01^ADT_A01|CTRL1|T^A|2.4^DEU\r");
  const Segment* msh = message.find("MSH");
  ASSERT_NE(msh, nullptr);
  EXPECT_EQ(msh->raw(1), "|");
  EXPECT_EQ(msh->value(1), "|");
  EXPECT_EQ(msh->raw(2), "^~\\&");
  EXPECT_EQ(msh->value(2), "^~\\&");  // the delimiters, not text with escapes
  EXPECT_EQ(msh->value(2, 2), "");
  EXPECT_EQ(msh->repetition_count(2), 1u);
  EXPECT_EQ(msh->raw(3), "APP");
  EXPECT_EQ(msh->raw(6), "RFAC");
  EXPECT_EQ(msh->raw(7), "20261124");
  EXPECT_EQ(msh->raw(8), "");
  EXPECT_EQ(msh->raw(9), "ADT^A01^ADT_A01");
  EXPECT_EQ(msh->field_count(), 12u);
  EXPECT_EQ(message.processing_id(), "T");
  EXPECT_EQ(message.version(), "2.4");
  EXPECT_EQ(message.control_id(), "CTRL1");
}

TEST(Hl7Message, TrailingEmptyFieldsAndComponentsSurviveRoundTrip) {
  const std::string text = join({
      R"(MSH|^~\&|RIS|HOSP|||20261124||ORM^O01^|C2|P|2.3.1|||)",
      R"(PID|1||P1^^^HOSP^MR^^||Doe^Jane^^^^||||)",
      R"(NTE|||)",
      R"(NTE)",
  });
  const Message message = parse_or_fail(text);
  EXPECT_EQ(message.write(), text);
  EXPECT_EQ(message.find("MSH")->field_count(), 15u);
  EXPECT_EQ(message.find("PID")->field_count(), 9u);
  EXPECT_EQ(message.find("NTE")->field_count(), 3u);
  EXPECT_EQ(message.find("NTE", 1)->field_count(), 0u);
  EXPECT_EQ(message.find("PID")->raw(5), "Doe^Jane^^^^");
}

TEST(Hl7Message, AbsentPartsReadAsEmpty) {
  const Message message = parse_or_fail("MSH|^~\\&|A|B\rPID|1||X^Y&Z\r");
  const Segment* pid = message.find("PID");
  ASSERT_NE(pid, nullptr);
  EXPECT_EQ(pid->raw(0), "");
  EXPECT_EQ(pid->raw(99), "");
  EXPECT_EQ(pid->value(0), "");
  EXPECT_EQ(pid->value(3, 0), "");
  EXPECT_EQ(pid->value(3, 1, 0), "");
  EXPECT_EQ(pid->value(3, 3), "");
  EXPECT_EQ(pid->value(3, 2, 2), "Z");
  EXPECT_EQ(pid->value(3, 2, 3), "");
  EXPECT_EQ(pid->value(3, 1, 1, 1), "");
  EXPECT_EQ(pid->value(1000000), "");
  EXPECT_EQ(message.find("OBR"), nullptr);
  EXPECT_EQ(message.find("PID", 1), nullptr);
  EXPECT_TRUE(message.all("OBX").empty());
  EXPECT_EQ(message.version(), "");
  EXPECT_EQ(message.charset(), "");
  EXPECT_EQ(message.trigger_event(), "");
}

TEST(Hl7Message, BuildsAMessageWithAdd) {
  Message message;
  Segment& msh = message.add("MSH");
  msh.set(3, "PACSNODE");
  msh.set(9, "ACK^O01^ACK");
  msh.set(12, "2.5.1");
  Segment& msa = message.add("MSA");
  msa.set(2, "CTRL9");
  msa.set(1, "AA");
  EXPECT_EQ(message.write(), "MSH|^~\\&|PACSNODE||||||ACK^O01^ACK|||2.5.1\rMSA|AA|CTRL9\r");
  EXPECT_EQ(message.trigger_event(), "O01");
  const auto reparsed = Message::parse(message.write());
  ASSERT_TRUE(reparsed);
  EXPECT_EQ(reparsed->write(), message.write());
}

TEST(Hl7Message, BuildsWithOtherDelimiters) {
  Message message(Delimiters{'#', '%', '*', '!', '@', ""});
  message.add("MSH").set(3, "APP");
  message.add("PID").set(5, "Doe%Jane");
  EXPECT_EQ(message.write(), "MSH#%*!@#APP\rPID#####Doe%Jane\r");
  EXPECT_EQ(message.find("PID")->value(5, 2), "Jane");
}

TEST(Hl7Segment, SetGrowsTheSegmentAndReplaces) {
  Segment segment("OBX", Delimiters{});
  EXPECT_EQ(segment.field_count(), 0u);
  EXPECT_EQ(segment.write(), "OBX");
  segment.set(5, "text");
  EXPECT_EQ(segment.field_count(), 5u);
  EXPECT_EQ(segment.write(), "OBX|||||text");
  segment.set(2, "TX");
  segment.set(5, "other");
  EXPECT_EQ(segment.write(), "OBX||TX|||other");
  segment.set(0, "ignored");
  EXPECT_EQ(segment.write(), "OBX||TX|||other");
}

TEST(Hl7Segment, MshOneAndTwoFollowTheDelimiters) {
  Segment msh("MSH", Delimiters{});
  EXPECT_EQ(msh.field_count(), 2u);
  EXPECT_EQ(msh.write(), "MSH|^~\\&");
  msh.set(1, "X");
  msh.set(2, "Y");
  EXPECT_EQ(msh.write(), "MSH|^~\\&");
  msh.set(3, "APP");
  EXPECT_EQ(msh.write(), "MSH|^~\\&|APP");
}

TEST(Hl7Message, RejectsEmptyInput) {
  expect_malformed("", "empty message");
  expect_malformed("\r\n\r\n", "empty message");
}

TEST(Hl7Message, RejectsTextNotStartingWithMsh) {
  expect_malformed("PID|1||P12345\rMSH|^~\\&|A\r", "does not start with an MSH");
  expect_malformed("msh|^~\\&|A\r", "does not start with an MSH");
  expect_malformed("HELLO WORLD", "does not start with an MSH");
  expect_malformed("FHS|^~\\&|A\r", "does not start with an MSH");
}

TEST(Hl7Message, RejectsAnMshTooShortForItsDelimiters) {
  expect_malformed("MSH", "too short");
  expect_malformed("MSH\rPID|1", "too short");
  expect_malformed("MSH|", "MSH-2 has 0");
  expect_malformed("MSH||A|B", "MSH-2 has 0");
  expect_malformed("MSH|^~\\|APP", "MSH-2 has 3");
}

TEST(Hl7Message, RejectsDuplicatedEncodingCharacters) {
  expect_malformed("MSH|^~\\\\&|APP\r", "repeats");  // a doubled backslash, as from a C string
  expect_malformed("MSH|^^\\&|APP\r", "repeats");
}

TEST(Hl7Message, RejectsUnusableDelimiterCharacters) {
  expect_malformed("MSH|^~A&|APP\r", "encoding character 3");
  expect_malformed("MSH|^~\\&1|APP\r", "encoding character 5");
  expect_malformed("MSH|^~ &|APP\r", "encoding character 3");
  expect_malformed("MSHX^~\\&XAPP\r", "MSH-1");
  expect_malformed("MSH ^~\\& APP\r", "MSH-1");
  expect_malformed(std::string("MSH|^~\\\xe9|APP\r"), "encoding character 4");
}

TEST(Hl7Message, RejectsBadSegmentIds) {
  const std::string msh = "MSH|^~\\&|RIS|HOSP|||20261124||ORM^O01|C3|P|2.3.1\r";
  expect_malformed(msh + "Pid|1\r", "segment 2");
  expect_malformed(msh + "PI|1\r", "segment 2");
  expect_malformed(msh + "PV1|1\rPIDX|1\r", "segment 3");
  expect_malformed(msh + "PID^1\r", "segment 2");
  expect_malformed(msh + "P-D|1\r", "segment 2");
  expect_malformed(msh + "PID|1\rMSH\r", "segment 3");
}

TEST(Hl7Message, ErrorTextsDoNotQuotePatientData) {
  // A CR inside a name splits the segment: the error names the position, not the content.
  const auto message =
      Message::parse("MSH|^~\\&|RIS|HOSP|||20261124||ORM^O01|C4|P|2.3.1\rPID|1||P1||Doe\rJane\r");
  ASSERT_FALSE(message);
  EXPECT_EQ(message.error().message.find("Jane"), std::string::npos);
  EXPECT_NE(message.error().message.find("segment 3"), std::string::npos);
}

TEST(Hl7Escape, UnescapesDelimiterSequences) {
  const Delimiters d;
  EXPECT_EQ(unescape(R"(\F\\S\\T\\R\\E\)", d), "|^&~\\");
  EXPECT_EQ(unescape(R"(a\F\b)", d), "a|b");
  EXPECT_EQ(unescape("plain text", d), "plain text");
  EXPECT_EQ(unescape("", d), "");
  EXPECT_EQ(unescape(R"(\P\)", d), R"(\P\)");  // no truncation character declared
}

TEST(Hl7Escape, DecodesHexBytes) {
  const Delimiters d;
  EXPECT_EQ(unescape(R"(\X0D0A\)", d), "\r\n");
  EXPECT_EQ(unescape(R"(A\X41e9\B)", d),
            "AA\xe9"
            "B");
  EXPECT_EQ(unescape(R"(\X00\)", d), std::string(1, '\0'));
}

TEST(Hl7Escape, FormattingCommandsGiveLineBreaksOrNothing) {
  const Delimiters d;
  EXPECT_EQ(unescape(R"(one\.br\two)", d), "one\ntwo");
  EXPECT_EQ(unescape(R"(one\.sp\two)", d), "one\n\ntwo");
  EXPECT_EQ(unescape(R"(one\.sp2\two)", d), "one\n\n\ntwo");
  EXPECT_EQ(unescape(R"(a\.sp99999\b)", d).size(), 2u + 100u);  // capped
  EXPECT_EQ(unescape(R"(\.in+4\\.ti-2\\.fi\\.nf\\.ce\\.sk3\text)", d), "text");
}

TEST(Hl7Escape, DropsHighlightLocalAndCharsetSwitches) {
  const Delimiters d;
  EXPECT_EQ(unescape(R"(\H\bold\N\ text)", d), "bold text");
  EXPECT_EQ(unescape(R"(a\Zlocal1\b)", d), "ab");
  EXPECT_EQ(unescape(R"(a\C2842\b)", d), "ab");
  EXPECT_EQ(unescape(R"(a\M2442\b\M242842\c)", d), "abc");
}

TEST(Hl7Escape, KeepsMalformedSequencesLiterally) {
  const Delimiters d;
  EXPECT_EQ(unescape(R"(C:\dir\file)", d), R"(C:\dir\file)");
  EXPECT_EQ(unescape(R"(trailing\)", d), R"(trailing\)");
  EXPECT_EQ(unescape(R"(\\)", d), R"(\\)");
  EXPECT_EQ(unescape(R"(\X0\)", d), R"(\X0\)");
  EXPECT_EQ(unescape(R"(\XZZ\)", d), R"(\XZZ\)");
  EXPECT_EQ(unescape(R"(\X\)", d), R"(\X\)");
  EXPECT_EQ(unescape(R"(\FF\)", d), R"(\FF\)");
  EXPECT_EQ(unescape(R"(\C28\)", d), R"(\C28\)");
  EXPECT_EQ(unescape(R"(\.xy\)", d), R"(\.xy\)");
  // A stray escape character does not swallow the real sequence next to it.
  EXPECT_EQ(unescape(R"(a\b\F\c)", d), R"(a\b|c)");
}

TEST(Hl7Escape, UsesTheMessagesOwnEscapeCharacter) {
  const Delimiters d{'$', '%', '*', '!', '@', ""};
  EXPECT_EQ(unescape("!F!!S!!T!!R!!E!", d), "$%@*!");
  EXPECT_EQ(unescape(R"(\F\)", d), R"(\F\)");
  EXPECT_EQ(escape("$%@*!|^&~\\", d), "!F!!S!!T!!R!!E!|^&~\\");
}

TEST(Hl7Escape, EscapeCoversDelimitersAndLineEnds) {
  const Delimiters d;
  EXPECT_EQ(escape("a|b^c&d~e\\f", d), R"(a\F\b\S\c\T\d\R\e\E\f)");
  EXPECT_EQ(escape("line1\r\nline2", d), R"(line1\X0D\\X0A\line2)");
  EXPECT_EQ(escape("Doe#1", d), "Doe#1");  // '#' is data without a declared truncation character
  EXPECT_EQ(escape("", d), "");
}

TEST(Hl7Escape, RoundTripOfArbitraryBytes) {
  std::mt19937 random(20261124);
  std::uniform_int_distribution<int> byte(0, 255);
  const Delimiters delimiter_sets[] = {Delimiters{}, Delimiters{'$', '%', '*', '!', '@', ""},
                                       Delimiters{'|', '^', '~', '\\', '&', "#"}};
  for (const Delimiters& d : delimiter_sets) {
    for (int sample = 0; sample < 300; ++sample) {
      std::string text(static_cast<std::size_t>(sample % 40), '\0');
      for (char& c : text) c = static_cast<char>(byte(random));
      const std::string escaped = escape(text, d);
      ASSERT_EQ(unescape(escaped, d), text);
      // Escaped text never contains a delimiter or a segment end, so it is safe in any field.
      for (const char c : escaped) {
        ASSERT_NE(c, d.field);
        ASSERT_NE(c, d.component);
        ASSERT_NE(c, d.repetition);
        ASSERT_NE(c, d.subcomponent);
        ASSERT_NE(c, '\r');
        ASSERT_NE(c, '\n');
      }
    }
  }
}

TEST(Hl7Escape, EscapedValueSurvivesAMessageRoundTrip) {
  const std::string text = "Doe|Jane^A~B&C\\D\r\nnext";
  Message built;
  built.add("MSH").set(3, "APP");
  built.add("NTE").set(3, escape(text, built.delimiters()));
  const auto parsed = Message::parse(built.write());
  ASSERT_TRUE(parsed);
  ASSERT_NE(parsed->find("NTE"), nullptr);
  EXPECT_EQ(parsed->find("NTE")->value(3), text);
  EXPECT_EQ(parsed->segments().size(), 2u);
}

}  // namespace
}  // namespace pacs::hl7
