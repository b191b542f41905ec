// MLLP framing, ACK building and MSH-18 character-set handling of the HL7 bridge.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "hl7bridge/ack.h"
#include "hl7bridge/charset.h"
#include "hl7bridge/message.h"
#include "hl7bridge/mllp_framer.h"

namespace pacs::hl7 {
namespace {

using State = MllpFramer::State;

const std::string kFirst = "MSH|^~\\&|RIS|HOSP|||20261124||ORM^O01|C1|P|2.3.1\rPID|1\r";
const std::string kSecond = "MSH|^~\\&|RIS|HOSP|||20261124||ORM^O01|C2|P|2.3.1\rPID|2\r";

std::vector<std::string> feed_all(MllpFramer& framer, std::string_view bytes) {
  std::vector<std::string> messages;
  framer.feed(bytes, messages);
  return messages;
}

TEST(MllpFramer, DeliversOneFrame) {
  MllpFramer framer(1024);
  EXPECT_EQ(framer.state(), State::Idle);
  const auto messages = feed_all(framer, mllp_frame(kFirst));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], kFirst);
  EXPECT_EQ(framer.state(), State::Idle);
  EXPECT_EQ(framer.discarded_bytes(), 0u);
}

TEST(MllpFramer, AssemblesAFrameFedByteByByte) {
  MllpFramer framer(1024);
  const std::string frame = mllp_frame(kFirst);
  std::vector<std::string> messages;
  for (std::size_t i = 0; i < frame.size(); ++i) {
    framer.feed(std::string_view(frame).substr(i, 1), messages);
    if (i == 0) {
      EXPECT_EQ(framer.state(), State::InMessage);
    }
    if (i + 2 < frame.size()) {
      EXPECT_TRUE(messages.empty()) << "delivered early at byte " << i;
    }
  }
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], kFirst);
  EXPECT_EQ(framer.discarded_bytes(), 0u);
  EXPECT_EQ(framer.state(), State::Idle);
}

TEST(MllpFramer, DeliversSeveralFramesFromOneRead) {
  MllpFramer framer(1024);
  const auto messages =
      feed_all(framer, mllp_frame(kFirst) + mllp_frame(kSecond) + mllp_frame("x"));
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0], kFirst);
  EXPECT_EQ(messages[1], kSecond);
  EXPECT_EQ(messages[2], "x");
  EXPECT_EQ(framer.discarded_bytes(), 0u);
}

TEST(MllpFramer, DeliversTheSameWhereverTheReadsSplit) {
  const std::string stream = mllp_frame(kFirst) + mllp_frame(kSecond);
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    MllpFramer framer(1024);
    std::vector<std::string> messages;
    framer.feed(std::string_view(stream).substr(0, split), messages);
    framer.feed(std::string_view(stream).substr(split), messages);
    ASSERT_EQ(messages.size(), 2u) << "split at " << split;
    EXPECT_EQ(messages[0], kFirst);
    EXPECT_EQ(messages[1], kSecond);
    EXPECT_EQ(framer.discarded_bytes(), 0u) << "split at " << split;
  }
}

TEST(MllpFramer, DiscardsAndCountsBytesBeforeVt) {
  MllpFramer framer(1024);
  auto messages = feed_all(framer, "GET / HTTP/1.1\r\n");
  EXPECT_TRUE(messages.empty());
  EXPECT_EQ(framer.state(), State::Idle);
  EXPECT_EQ(framer.discarded_bytes(), 16u);
  messages = feed_all(framer, "noise" + mllp_frame(kFirst) + "\x1c\r" + mllp_frame(kSecond));
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1], kSecond);
  EXPECT_EQ(framer.discarded_bytes(), 16u + 5u + 2u);
}

TEST(MllpFramer, ToleratesAMissingCrAfterFs) {
  MllpFramer framer(1024);
  const std::string stream =
      "\x0b" + kFirst + "\x1c" + "\x0b" + kSecond + "\x1c";  // no CR after either FS
  const auto messages = feed_all(framer, stream);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], kFirst);
  EXPECT_EQ(messages[1], kSecond);
  EXPECT_EQ(framer.discarded_bytes(), 0u);
  EXPECT_EQ(framer.state(), State::Idle);
}

TEST(MllpFramer, ConsumesTheCrAfterFsOnlyOnce) {
  MllpFramer framer(1024);
  std::vector<std::string> messages;
  framer.feed("\x0b" + kFirst + "\x1c", messages);
  framer.feed("\r", messages);  // the frame's own CR, in the next read: not noise
  EXPECT_EQ(framer.discarded_bytes(), 0u);
  framer.feed("\r", messages);  // a second CR is noise
  EXPECT_EQ(framer.discarded_bytes(), 1u);
  EXPECT_EQ(messages.size(), 1u);
}

TEST(MllpFramer, VtInsideAMessageStartsOver) {
  MllpFramer framer(1024);
  std::vector<std::string> messages;
  framer.feed("\x0bMSH|partial", messages);
  EXPECT_EQ(framer.state(), State::InMessage);
  EXPECT_EQ(framer.buffered_bytes(), 11u);
  framer.feed(mllp_frame(kSecond), messages);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], kSecond);
  EXPECT_EQ(framer.discarded_bytes(), 12u);  // "MSH|partial" and its VT
  EXPECT_EQ(framer.state(), State::Idle);
}

TEST(MllpFramer, AnUnfinishedFrameIsNeverDelivered) {
  MllpFramer framer(1024);
  const auto messages = feed_all(framer, "\x0b" + kFirst);
  EXPECT_TRUE(messages.empty());
  EXPECT_EQ(framer.state(), State::InMessage);
  EXPECT_EQ(framer.buffered_bytes(), kFirst.size());
}

TEST(MllpFramer, AcceptsAMessageOfExactlyTheLimit) {
  const std::string message(100, 'A');
  MllpFramer framer(100);
  const auto messages = feed_all(framer, mllp_frame(message));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], message);
  EXPECT_EQ(framer.state(), State::Idle);
}

TEST(MllpFramer, OversizeIgnoresEverythingAfter) {
  MllpFramer framer(100);
  std::vector<std::string> messages;
  const std::string too_long = mllp_frame(std::string(101, 'A'));
  framer.feed(too_long, messages);
  EXPECT_EQ(framer.state(), State::Oversize);
  EXPECT_TRUE(messages.empty());
  EXPECT_EQ(framer.buffered_bytes(), 0u);
  EXPECT_EQ(framer.discarded_bytes(), too_long.size());
  framer.feed(mllp_frame(kFirst), messages);  // a good frame after it is not read any more
  EXPECT_TRUE(messages.empty());
  EXPECT_EQ(framer.state(), State::Oversize);
  EXPECT_EQ(framer.discarded_bytes(), too_long.size() + kFirst.size() + 3);
}

TEST(MllpFramer, OversizeIsDetectedAcrossReadsBeforeTheEnd) {
  MllpFramer framer(100);
  std::vector<std::string> messages;
  framer.feed("\x0b" + std::string(60, 'A'), messages);
  EXPECT_EQ(framer.state(), State::InMessage);
  framer.feed(std::string(60, 'A'), messages);  // no FS yet: the limit alone decides
  EXPECT_EQ(framer.state(), State::Oversize);
  EXPECT_TRUE(messages.empty());
}

TEST(MllpFramer, FramesBeforeAnOversizeOneAreDelivered) {
  MllpFramer framer(100);
  const auto messages = feed_all(framer, mllp_frame("small") + mllp_frame(std::string(200, 'B')));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], "small");
  EXPECT_EQ(framer.state(), State::Oversize);
}

TEST(MllpFramer, AnEmptyFrameGivesAnEmptyMessage) {
  MllpFramer framer(100);
  const auto messages = feed_all(framer, "\x0b\x1c\r");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], "");
}

TEST(MllpFrame, WrapsInVtFsCr) {
  EXPECT_EQ(mllp_frame("MSH|x\r"), "\x0bMSH|x\r\x1c\r");
  EXPECT_EQ(mllp_frame(""), "\x0b\x1c\r");
}

// --- Acknowledgements

Message received(std::string_view text) {
  auto message = Message::parse(text);
  if (!message) {
    ADD_FAILURE() << message.error().message;
    return Message{};
  }
  return std::move(*message);
}

const std::string kOmiV251 =
    "MSH|^~\\&|RIS|HOSP|PACSNODE|RADIOLOGY|20261124101500||OMI^O23^OMI_O23|RIS0004711|P|2.5.1\r"
    "PID|1||P12345^^^HOSP^MR||Doe^Jane\r";
const std::string kOrmV231 =
    "MSH|^~\\&|RIS^1.2.3^ISO|HOSP|PACSNODE|RAD|20261124093000||ORM^O01|RIS0004712|P|2.3.1\r"
    "PID|1||P12345^^^HOSP^MR||Doe^Jane\r";

AckError error_at(int code, std::string text, std::string segment, std::size_t field) {
  AckError error;
  error.code = code;
  error.text = std::move(text);
  error.segment = std::move(segment);
  error.field = field;
  return error;
}

TEST(Ack, AcceptsWithSwappedApplicationsAndEchoedControlId) {
  const std::string ack = make_ack(received(kOmiV251), AckCode::AA, std::nullopt, "PN000122",
                                   "20261124101501", "PACSNODE", "RADIOLOGY");
  EXPECT_EQ(ack,
            "MSH|^~\\&|PACSNODE|RADIOLOGY|RIS|HOSP|20261124101501||ACK^O23^ACK|PN000122|P|2.5.1\r"
            "MSA|AA|RIS0004711\r");
}

TEST(Ack, ApplicationErrorInV251HasErrWithLocationCodeAndText) {
  const std::string ack = make_ack(received(kOmiV251), AckCode::AE,
                                   error_at(101, "Accession number (OBR-18) missing", "OBR", 18),
                                   "PN000123", "20261124101502", "PACSNODE", "RADIOLOGY");
  EXPECT_EQ(ack,
            "MSH|^~\\&|PACSNODE|RADIOLOGY|RIS|HOSP|20261124101502||ACK^O23^ACK|PN000123|P|2.5.1\r"
            "MSA|AE|RIS0004711|Accession number (OBR-18) missing\r"
            "ERR||OBR^1^18|101^Required field missing^HL70357|E||||"
            "Accession number (OBR-18) missing\r");
}

TEST(Ack, RejectInV231UsesErrOne) {
  const std::string ack =
      make_ack(received(kOrmV231), AckCode::AR, error_at(200, "ORM^O01 only", "MSH", 9), "PN1",
               "20261124093001");
  EXPECT_EQ(ack,
            "MSH|^~\\&|PACSNODE||RIS^1.2.3^ISO|HOSP|20261124093001||ACK^O01^ACK|PN1|P|2.3.1\r"
            "MSA|AR|RIS0004712|ORM\\S\\O01 only\r"
            "ERR|MSH^1^9^200&Unsupported message type&HL70357\r");
}

TEST(Ack, ErrFormFollowsTheVersion) {
  const auto err_of = [](std::string_view version) {
    const std::string text =
        "MSH|^~\\&|RIS|HOSP|||20261124||ADT^A08|C1|P|" + std::string(version) + "\rPID|1\r";
    const auto ack = Message::parse(make_ack(
        received(text), AckCode::AE, error_at(204, "unknown patient", "PID", 3), "A1", "20261124"));
    EXPECT_TRUE(ack);
    return ack && ack->find("ERR") ? std::string(ack->find("ERR")->write()) : std::string{};
  };
  EXPECT_EQ(err_of("2.3"), "ERR|PID^1^3^204&Unknown key identifier&HL70357");
  EXPECT_EQ(err_of("2.3.1"), "ERR|PID^1^3^204&Unknown key identifier&HL70357");
  EXPECT_EQ(err_of("2.4"), "ERR|PID^1^3^204&Unknown key identifier&HL70357");
  const std::string v25 = "ERR||PID^1^3|204^Unknown key identifier^HL70357|E||||unknown patient";
  EXPECT_EQ(err_of("2.5"), v25);
  EXPECT_EQ(err_of("2.5.1"), v25);
  EXPECT_EQ(err_of("2.6"), v25);
  EXPECT_EQ(err_of("2.8.2"), v25);
}

TEST(Ack, AnswersInTheReceivedVersionAndProcessingId) {
  const Message message =
      received("MSH|^~\\&|RIS|HOSP|||20261124||ADT^A08^ADT_A01|C7|T|2.4||||||8859/1\rPID|1\r");
  const auto ack = Message::parse(make_ack(message, AckCode::AA, std::nullopt, "A7", "20261124"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->processing_id(), "T");
  EXPECT_EQ(ack->version(), "2.4");
  EXPECT_EQ(ack->charset(), "8859/1");
  EXPECT_EQ(ack->message_type(), "ACK");
  EXPECT_EQ(ack->trigger_event(), "A08");
  EXPECT_EQ(ack->find("MSH")->value(9, 3), "ACK");
  EXPECT_EQ(ack->control_id(), "A7");
  EXPECT_EQ(ack->find("MSA")->value(2), "C7");
}

TEST(Ack, DefaultsProcessingIdAndVersionWhenAbsent) {
  const Message message = received("MSH|^~\\&|RIS|HOSP|||20261124||ADT^A08|C8\rPID|1\r");
  const std::string ack = make_ack(message, AckCode::AA, std::nullopt, "A8", "20261124");
  EXPECT_EQ(ack, "MSH|^~\\&|PACSNODE||RIS|HOSP|20261124||ACK^A08^ACK|A8|P|2.5.1\rMSA|AA|C8\r");
}

TEST(Ack, UsesTheReceivedDelimiters) {
  const Message message = received("MSH$%*!@$RIS%X$HOSP$$$20261124$$ORM%O01$C%9$P$2.3.1\rPID$1\r");
  const std::string ack = make_ack(message, AckCode::AE, error_at(103, "bad $ value", "PID", 8),
                                   "A9", "20261124", "PACS%NODE");
  EXPECT_EQ(ack,
            "MSH$%*!@$PACS!S!NODE$$RIS%X$HOSP$20261124$$ACK%O01%ACK$A9$P$2.3.1\r"
            "MSA$AE$C%9$bad !F! value\r"
            "ERR$PID%1%8%103@Table value not found@HL70357\r");
  const auto parsed = Message::parse(ack);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->find("MSA")->value(3), "bad $ value");
  EXPECT_EQ(parsed->find("MSH")->value(3), "PACS%NODE");
}

TEST(Ack, EscapesAllText) {
  const std::string ack = make_ack(received(kOmiV251), AckCode::AE,
                                   error_at(207, "db|down^now&later~\\x\r\n", "OBR", 0), "A|1",
                                   "2026^1124", "PACS&NODE", "RAD~1");
  const auto parsed = Message::parse(ack);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->segments().size(), 3u);  // no CR/LF leaked into the text
  EXPECT_EQ(parsed->control_id(), "A|1");
  EXPECT_EQ(parsed->find("MSH")->value(7), "2026^1124");
  EXPECT_EQ(parsed->find("MSH")->value(3), "PACS&NODE");
  EXPECT_EQ(parsed->find("MSH")->value(4), "RAD~1");
  EXPECT_EQ(parsed->find("MSA")->value(3), "db|down^now&later~\\x\r\n");
  const Segment* err = parsed->find("ERR");
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->value(8), "db|down^now&later~\\x\r\n");
  EXPECT_EQ(err->raw(2), "OBR^1");  // field 0: the segment as a whole
  EXPECT_EQ(err->value(3, 1), "207");
  EXPECT_EQ(err->value(3, 2), "Application internal error");
}

TEST(Ack, ErrorWithoutLocationOrKnownCode) {
  const std::string ack =
      make_ack(received(kOmiV251), AckCode::AE, error_at(999, "odd", "", 0), "A2", "20261124");
  EXPECT_NE(ack.find("\rERR|||999^odd^HL70357|E||||odd\r"), std::string::npos) << ack;
  const std::string legacy = make_ack(received(kOrmV231), AckCode::AE,
                                      error_at(204, "no such order", "", 0), "A3", "20261124");
  EXPECT_NE(legacy.find("\rERR|^^^204&Unknown key identifier&HL70357\r"), std::string::npos)
      << legacy;
}

TEST(Ack, AcceptedWithAWarning) {
  const std::string ack =
      make_ack(received(kOmiV251), AckCode::AA,
               error_at(103, "priority X read as routine", "TQ1", 9), "A4", "20261124");
  EXPECT_NE(ack.find("\rMSA|AA|RIS0004711|priority X read as routine\r"), std::string::npos);
  EXPECT_NE(ack.find("|103^Table value not found^HL70357|W|"), std::string::npos) << ack;
}

TEST(Ack, RejectsUnparseableTextEchoingWhatItCanFind) {
  const std::string reject = make_reject_for_unparseable(
      "MSH|^~\\\\&|RIS|HOSP|||20261124||ORM^O01|RIS0004713|P|2.3.1\rPID|1\r",
      "MSH-2 repeats an encoding character", "PN9", "20261124101503");
  EXPECT_EQ(reject,
            "MSH|^~\\&|PACSNODE||||20261124101503||ACK^^ACK|PN9|P|2.5.1\r"
            "MSA|AR|RIS0004713|MSH-2 repeats an encoding character\r"
            "ERR|||100^Segment sequence error^HL70357|E||||MSH-2 repeats an encoding character\r");
  EXPECT_TRUE(Message::parse(reject));
}

TEST(Ack, RejectOfTextWithoutAControlIdLeavesMsaTwoEmpty) {
  const auto msa_of = [](std::string_view raw) {
    const auto parsed = Message::parse(make_reject_for_unparseable(raw, "bad", "P1", "2026"));
    EXPECT_TRUE(parsed);
    return parsed && parsed->find("MSA") ? std::string(parsed->find("MSA")->write())
                                         : std::string("none");
  };
  EXPECT_EQ(msa_of("garbage"), "MSA|AR||bad");
  EXPECT_EQ(msa_of(""), "MSA|AR||bad");
  EXPECT_EQ(msa_of("MSH|^~\\&|A|B|C\rPID|1||||||||||||ID"), "MSA|AR||bad");
  EXPECT_EQ(msa_of("PID|1|2|3|4|5|6|7|8|9|10|11"), "MSA|AR||bad");
  EXPECT_EQ(msa_of(std::string("MSH|^~\\&|A|B|C|D|E||ORM|ID\x01X|P")), "MSA|AR||bad");
  EXPECT_EQ(msa_of("MSH|^~\\&|A|B|C|D|E||ORM|IDX"), "MSA|AR|IDX|bad");
  EXPECT_EQ(msa_of("MSH|^~\\&|A|B|C|D|E||ORM|IDY\nPID"), "MSA|AR|IDY|bad");
}

TEST(Ack, RejectEscapesTheReason) {
  const auto parsed =
      Message::parse(make_reject_for_unparseable("x", "line\rbreak|pipe", "P|2", "2026", "A^B"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->segments().size(), 3u);
  EXPECT_EQ(parsed->find("MSA")->value(3), "line\rbreak|pipe");
  EXPECT_EQ(parsed->control_id(), "P|2");
  EXPECT_EQ(parsed->find("MSH")->value(3), "A^B");
}

TEST(Ack, CodeNamesAndTableTexts) {
  EXPECT_EQ(to_string(AckCode::AA), "AA");
  EXPECT_EQ(to_string(AckCode::AE), "AE");
  EXPECT_EQ(to_string(AckCode::AR), "AR");
  EXPECT_EQ(error_code_text(101), "Required field missing");
  EXPECT_EQ(error_code_text(207), "Application internal error");
  EXPECT_EQ(error_code_text(42), "");
}

// --- MSH-18 character sets

TEST(Charset, MapsMsh18ToDicomTerms) {
  EXPECT_EQ(dicom_charset(""), "");
  EXPECT_EQ(dicom_charset("ASCII"), "");
  EXPECT_EQ(dicom_charset("8859/1"), "ISO_IR 100");
  EXPECT_EQ(dicom_charset("UNICODE UTF-8"), "ISO_IR 192");
  EXPECT_EQ(dicom_charset("8859/2"), "ISO_IR 101");
  EXPECT_EQ(dicom_charset("8859/5"), "ISO_IR 144");
  EXPECT_EQ(dicom_charset("8859/15"), "ISO_IR 203");
  EXPECT_EQ(dicom_charset(" unicode utf-8 "), "ISO_IR 192");
  EXPECT_EQ(dicom_charset("  "), "");
  EXPECT_EQ(dicom_charset("UNICODE UTF-16"), std::nullopt);
  EXPECT_EQ(dicom_charset("ISO IR87"), std::nullopt);
  EXPECT_EQ(dicom_charset("8859"), std::nullopt);
  EXPECT_EQ(dicom_charset("8859/1/"), std::nullopt);
}

TEST(Charset, AsciiAcceptsSevenBitOnly) {
  const auto ok = to_utf8("Doe^Jane\x7f", "");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, "Doe^Jane\x7f");
  EXPECT_TRUE(to_utf8("abc", "ASCII"));
  const auto bad = to_utf8("Mu\xe9ller", "ASCII");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::Malformed);
  EXPECT_NE(bad.error().message.find("0xE9 at offset 2"), std::string::npos) << bad.error().message;
}

TEST(Charset, ConvertsLatin1ToUtf8) {
  const auto text = to_utf8("M\xfcller \xc9mile \xa0\xff", "8859/1");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "M\xc3\xbcller \xc3\x89mile \xc2\xa0\xc3\xbf");
  EXPECT_EQ(*to_utf8("plain", "8859/1"), "plain");
  EXPECT_EQ(*to_utf8("", "8859/1"), "");
}

TEST(Charset, ValidatesUtf8) {
  const std::string valid = "M\xc3\xbcller \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
  const auto ok = to_utf8(valid, "UNICODE UTF-8");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, valid);
  const char* invalid[] = {
      "M\xfcller",             // a Latin-1 byte
      "\xc3",                  // truncated
      "\xe2\x82",              // truncated
      "\xc0\xaf",              // overlong '/'
      "\xe0\x80\xaf",          // overlong
      "\xed\xa0\x80",          // surrogate U+D800
      "\xf4\x90\x80\x80",      // above U+10FFFF
      "\xc3\x28",              // bad continuation
      "\x80",                  // continuation without lead
      "\xf8\x88\x80\x80\x80",  // five-byte form
  };
  for (const char* bytes : invalid) {
    const auto result = to_utf8(bytes, "UNICODE UTF-8");
    ASSERT_FALSE(result) << "accepted " << bytes;
    EXPECT_EQ(result.error().code, ErrorCode::Malformed);
  }
  const auto offset = to_utf8("abc\xc3", "UNICODE UTF-8");
  ASSERT_FALSE(offset);
  EXPECT_NE(offset.error().message.find("offset 3"), std::string::npos);
}

TEST(Charset, RefusesCharsetsItDoesNotDecode) {
  for (const char* name : {"8859/2", "8859/5", "UNICODE UTF-16", "KLINGON"}) {
    const auto result = to_utf8("abc", name);
    ASSERT_FALSE(result) << name;
    EXPECT_EQ(result.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(result.error().message.find("unsupported"), std::string::npos);
  }
}

}  // namespace
}  // namespace pacs::hl7
