// Original-mode HL7 v2 acknowledgements (ACK: MSH, MSA, ERR) for a received message, or for
// text that could not be parsed as one.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "hl7bridge/message.h"

namespace pacs::hl7 {

// MSA-1, HL7 table 0008: accepted, application error (understood, not applied), application
// reject (not processed: MSH problems, unsupported type/version, unparseable).
enum class AckCode { AA, AE, AR };
std::string_view to_string(AckCode code);

// What went wrong, and where, for the ERR segment.
struct AckError {
  int code = 0;         // HL7 table 0357, e.g. 101 required field missing, 204 unknown key
  std::string text;     // for people; goes to MSA-3 and ERR-8 (keep patient data out of it)
  std::string segment;  // ID of the offending segment; "" for no location
  std::size_t sequence = 1;
  std::size_t field = 0;  // 0: the segment as a whole
};

// The table 0357 description of `code` ("Required field missing"), "" for codes not in it.
std::string_view error_code_text(int code);

// The ACK text (segments terminated by CR, not MLLP-framed) answering `received`, written with
// the received delimiters. MSH: ours as sender, the received MSH-3/MSH-4 as receiver, MSH-9
// ACK^<received trigger>^ACK, MSH-11 the received processing ID (P when absent), MSH-12 the
// received version (2.5.1 when absent), MSH-18 the received one when present (the ACK carries its
// MSH-3/4/10 bytes). MSA-2 echoes the received MSH-10. The ERR form follows the version:
// ERR-2/3/4/8 from 2.5 on, ERR-1 (segment^sequence^field^code&text&HL70357) before. All text is
// escaped.
std::string make_ack(const Message& received, AckCode code, const std::optional<AckError>& error,
                     std::string_view ack_control_id, std::string_view timestamp,
                     std::string_view own_application = "PACSNODE",
                     std::string_view own_facility = "");

// An AR (error 100, `reason` as text) for bytes that did not parse as a message, in v2.5.1 with
// the default delimiters. MSA-2 is the raw MSH-10 when the first line starts "MSH|" and has a 10th
// field without control characters; otherwise empty (the sender cannot match it, but is told).
std::string make_reject_for_unparseable(std::string_view raw_text, std::string_view reason,
                                        std::string_view ack_control_id, std::string_view timestamp,
                                        std::string_view own_application = "PACSNODE",
                                        std::string_view own_facility = "");

}  // namespace pacs::hl7
