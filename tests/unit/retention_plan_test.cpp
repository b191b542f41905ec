// The retention plan on its own: which rule applies to a study, how a study without a Study Date
// is judged, that unforwarded studies are kept, and where the disk rule stops.
#include <gtest/gtest.h>

#include "pacsnode/services/retention.h"
#include "storage/model/clock.h"

namespace pacs {
namespace {

constexpr std::int64_t kDayMs = 86400000;

AgedStudy study(const std::string& uid, const std::string& date, const std::string& modalities,
                std::uint64_t bytes = 100, bool unsent = false, std::int64_t received_ms = 0) {
  return {.study_uid = uid,
          .study_date = date,
          .modalities = modalities,
          .received_ms = received_ms,
          .instances = 1,
          .bytes = bytes,
          .unsent = unsent};
}

std::vector<std::string> uids(const std::vector<RetentionVerdict>& verdicts) {
  std::vector<std::string> out;
  for (const auto& v : verdicts) out.push_back(v.study.study_uid + (v.kept ? "(kept)" : ""));
  return out;
}

TEST(RetentionPlan, TheLongestPeriodOfAStudysModalitiesApplies) {
  const std::int64_t now = wall_clock_ms();
  const auto now_point = std::chrono::system_clock::time_point(std::chrono::milliseconds(now));
  const std::string two_years_ago = date_days_before(now_point, 730);
  RetentionPolicy policy{.keep_days = 365, .keep_days_by_modality = {{"CR", 3650}, {"US", 30}}};
  const auto verdicts = plan_retention(
      policy,
      {study("ct", two_years_ago, "CT"), study("cr", two_years_ago, "CR"),
       study("ct+cr", two_years_ago, "CR\\CT"), study("us", date_days_before(now_point, 40), "US"),
       study("young", date_days_before(now_point, 100), "CT"),
       study("nodate-old", "", "CT", 100, false, now - 400 * kDayMs),
       study("nodate-new", "", "CT", 100, false, now - 10 * kDayMs),
       study("nodate-unknown", "", "CT", 100, false, 0),
       study("unsent", two_years_ago, "CT", 100, true)},
      now, {});
  EXPECT_EQ(uids(verdicts), (std::vector<std::string>{"ct", "us", "nodate-old", "unsent(kept)"}));
}

TEST(RetentionPlan, TheDiskRuleTakesTheOldestUntilTheLowMarkAndSkipsUnsentStudies) {
  RetentionPolicy policy{.disk_high_percent = 90, .disk_low_percent = 70};
  // 1000 bytes, 950 used: 250 must go to reach 700.
  const DiskUse disk{.capacity_bytes = 1000, .available_bytes = 50};
  const std::vector<AgedStudy> oldest_first = {
      study("a", "20100101", "CT", 100), study("b", "20110101", "CT", 100, true),
      study("c", "20120101", "CT", 100), study("d", "20130101", "CT", 100),
      study("e", "20140101", "CT", 100)};
  EXPECT_EQ(uids(plan_retention(policy, oldest_first, wall_clock_ms(), disk)),
            (std::vector<std::string>{"a", "b(kept)", "c", "d"}));
  // Below the high mark nothing goes.
  EXPECT_TRUE(plan_retention(policy, oldest_first, wall_clock_ms(),
                             {.capacity_bytes = 1000, .available_bytes = 200})
                  .empty());
}

}  // namespace
}  // namespace pacs
