// An order's way from the RIS to the report, step by step: what happened when.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pacs {

// Steps, in the order they usually come.
namespace step {
inline constexpr const char* kOrderReceived = "order-received";  // the ORM/OMI, applied and ACKed
inline constexpr const char* kWorklistQueried = "worklist-queried";  // first query of a modality
inline constexpr const char* kMppsInProgress = "mpps-in-progress";
inline constexpr const char* kFirstInstance = "first-instance";
inline constexpr const char* kMppsCompleted = "mpps-completed";
inline constexpr const char* kMppsDiscontinued = "mpps-discontinued";
inline constexpr const char* kLastInstance = "last-instance";
inline constexpr const char* kStudyComplete = "study-complete";
inline constexpr const char* kNotificationAcked = "notification-acked";  // delivered, AA received
inline constexpr const char* kReportReceived = "report-received";
}  // namespace step

struct TimelineEvent {
  std::string step;
  std::int64_t at_ms = 0;
  std::string detail;  // who (a calling AE, a destination), what (a status)
};

struct Timeline {
  std::string accession_number;
  std::string placer_order, filler_order, study_uid;
  std::vector<TimelineEvent> events;  // by time
};

}  // namespace pacs
