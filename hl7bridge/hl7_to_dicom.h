// HL7 v2 data types as DICOM values: names (XPN, XCN to PN), dates and times (TS to DA and TM),
// and the coded values whose tables differ (sex, priority).
#pragma once

#include <string>
#include <utility>

#include "hl7bridge/message.h"

namespace pacs::hl7 {

// A value with HL7's explicit null (`""`) read as empty, as a new worklist item or a name part
// takes it; "" too for an absent segment.
std::string value_or_empty(const Segment* segment, std::size_t field, std::size_t component = 1,
                           std::size_t subcomponent = 1);

// XPN (family^given^middle^suffix^prefix) to PN (family^given^middle^prefix^suffix).
std::string person_name_from_xpn(const Segment& segment, std::size_t field);
// XCN (id^family^given^middle^suffix^prefix) to PN.
std::string person_name_from_xcn(const Segment& segment, std::size_t field);
// HL7 table 0001 (F, M, O, U, A, N) to DICOM (M, F, O, or empty).
std::string dicom_sex(const std::string& hl7);
// TQ priority / TQ1-9 (S, A, P, C, R, T) to Requested Procedure Priority.
std::string dicom_priority(const std::string& hl7);
// TS/DTM to DA and TM; the offset is dropped (TM has none).
std::pair<std::string, std::string> dicom_date_and_time(const std::string& ts);
std::string dicom_date(const std::string& ts);

}  // namespace pacs::hl7
