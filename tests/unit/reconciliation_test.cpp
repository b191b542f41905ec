// Demographics as an operator compares them, and the work queue's ranking: pure logic, so the
// cases are spelled out here rather than stored through a node.
#include <gtest/gtest.h>

#include <ctime>

#include "pacsnode/services/reconciliation_queue.h"
#include "storage/model/demographics.h"

namespace pacs {
namespace {

TEST(Demographics, NamesAgreeOnFamilyAndFirstGivenName) {
  EXPECT_EQ(compare_names("Doe^Jane", "DOE^JANE^A^Mrs"), Agreement::Same);
  EXPECT_EQ(compare_names("O'Brien-Smith^Jo", "OBRIENSMITH^JO"), Agreement::Same);
  EXPECT_EQ(compare_names("Doe^J", "Doe^Jane"), Agreement::Same);          // an initial
  EXPECT_EQ(compare_names("Jane^Doe", "Doe^Jane"), Agreement::Similar);    // swapped
  EXPECT_EQ(compare_names("Doe^Jane", "Doe^John"), Agreement::Different);  // a relative
  EXPECT_EQ(compare_names("Doe^Jane", "Smith^Anna"), Agreement::Different);
  EXPECT_EQ(compare_names("", "Smith^Anna"), Agreement::Unknown);
  EXPECT_EQ(compare_names("Doe^Jane=ドウ^ジェーン", "Doe^Jane"), Agreement::Same);
}

TEST(Demographics, BirthDatesAgreeExactlyOrWithinTheTolerance) {
  EXPECT_EQ(compare_birth_dates("19700101", "19700101"), Agreement::Same);
  EXPECT_EQ(compare_birth_dates("19700101", "19700103"), Agreement::Different);
  EXPECT_EQ(compare_birth_dates("19700101", "19700103", 2), Agreement::Similar);
  EXPECT_EQ(compare_birth_dates("19700102", "19700201"), Agreement::Similar);  // day/month
  EXPECT_EQ(compare_birth_dates("19700101", ""), Agreement::Unknown);
  EXPECT_EQ(compare_birth_dates("1970", "19700101"), Agreement::Different);
  EXPECT_TRUE(demographics_conflict("Doe^Jane", "19700101", "Doe^Jane", "19800101"));
  EXPECT_FALSE(demographics_conflict("Doe^Jane", "19700101", "DOE^J", ""));
}

PatientFacts patient(std::string id, std::string name, std::string birth) {
  return {std::move(id), "", std::move(name), std::move(birth), ""};
}

TEST(WorkQueue, CandidatesAreRankedWithTheirReasonsAndNonMatchesLeftOut) {
  ReconciliationFacts facts;
  facts.unscheduled.push_back({"1.2.3", "", "20261201", "101500", "CT\\SR",
                               patient("P1", "Doe^Jane", "19700101"), "no order", 0});
  OpenOrder mine{
      "PL1", "FL1",      "ACC1",  "SCHEDULED", patient("P1", "Doe^Jane^^^Mrs", "19700101"),
      "CT",  "20261201", "100000"};
  OpenOrder namesake{"PL2", "FL2",      "ACC2",  "SCHEDULED", patient("P9", "Doe^Jane", "19700101"),
                     "MR",  "20261130", "100000"};
  OpenOrder other{"PL3", "FL3",      "ACC3",  "SCHEDULED", patient("P3", "Roe^Rita", "19550505"),
                  "CT",  "20261201", "090000"};
  facts.open_orders = {other, namesake, mine};
  QueueOptions options;
  options.now_ms = 0;  // nothing is overdue yet
  const auto queue = work_queue(facts, options);
  ASSERT_EQ(queue.size(), 1u);
  const auto& candidates = queue[0].candidates;
  ASSERT_EQ(candidates.size(), 2u);  // Rita's order scores nothing
  EXPECT_EQ(candidates[0].filler_order, "FL1");
  EXPECT_EQ(candidates[0].score, 40 + 20 + 20 + 10 + 10);
  EXPECT_EQ(
      candidates[0].reasons,
      (std::vector<std::string>{"+40 same Patient ID", "+20 same name", "+20 same birth date",
                                "+10 CT as scheduled", "+10 performed on the scheduled day"}));
  EXPECT_EQ(candidates[1].filler_order, "FL2");
  EXPECT_EQ(candidates[1].score, -10 + 20 + 20 + 5);
}

TEST(WorkQueue, AnOrderIsOverdueOnlyAfterItsGrace) {
  ReconciliationFacts facts;
  facts.open_orders.push_back({"PL1", "FL1", "ACC1", "SCHEDULED",
                               patient("P1", "Doe^Jane", "19700101"), "CT", "20261201", "100000"});
  std::tm t{};
  t.tm_year = 2026 - 1900;
  t.tm_mon = 11;
  t.tm_mday = 1;
  t.tm_hour = 10;
  t.tm_isdst = -1;
  const std::int64_t start = static_cast<std::int64_t>(std::mktime(&t)) * 1000;
  QueueOptions options;
  options.overdue_after_minutes = 60;
  options.now_ms = start + 59 * 60000;
  EXPECT_TRUE(work_queue(facts, options).empty());
  options.now_ms = start + 61 * 60000;
  const auto queue = work_queue(facts, options);
  ASSERT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue[0].kind, WorkItem::Kind::OverdueOrder);
  EXPECT_EQ(queue[0].overdue_minutes, 61);
}

}  // namespace
}  // namespace pacs
