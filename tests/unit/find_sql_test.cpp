#include <gtest/gtest.h>

#include "storage/find_sql.h"

namespace pacs {

CompiledFind range(const std::string& low, const std::string& high) {
  FindQuery q;
  q.conditions.push_back({Column::StudyDate, Condition::Kind::Range, {low, high}});
  return compile_find(q, 0);
}

TEST(FindSql, ARangeIsOneIndexRangeWithTheHighBoundAsAPrefix) {
  auto c = range("20260101", "20260131");
  EXPECT_NE(c.sql.find("st.study_date >= ? AND st.study_date < ?"), std::string::npos) << c.sql;
  EXPECT_EQ(c.params, (std::vector<std::string>{"20260101", "20260132"}));
  EXPECT_EQ(range("", "1259").params, std::vector<std::string>{"1260"});
  EXPECT_EQ(range("", "1299").params, std::vector<std::string>{"1300"});
}

TEST(FindSql, OpenAndAllNinesBoundsLeaveThatSideOpen) {
  EXPECT_EQ(range("20260101", "").params, std::vector<std::string>{"20260101"});
  auto nines = range("1000", "9999");
  EXPECT_EQ(nines.params, std::vector<std::string>{"1000"});
  EXPECT_EQ(nines.sql.find("<"), std::string::npos);
}

TEST(FindSql, ANonDigitHighBoundIsComparedAsItIs) {
  EXPECT_EQ(range("", "120000.5").params, std::vector<std::string>{"120000.5"});
}

TEST(FindSql, WildcardsBecomeLikePatternsWithTheirSpecialsEscaped) {
  EXPECT_EQ(like_pattern("D?E*"), "D_E%");
  EXPECT_EQ(like_pattern("50%_off\\"), "50\\%\\_off\\\\");
}

TEST(FindSql, PersonNamesUseTheKeyOfTheirFirstGroup) {
  FindQuery q;
  q.conditions.push_back({Column::PatientName, Condition::Kind::Wildcard, {"doe*"}, true});
  auto c = compile_find(q, 10);
  EXPECT_NE(c.sql.find("p.name_key LIKE ?"), std::string::npos) << c.sql;
  EXPECT_EQ(c.params, std::vector<std::string>{"DOE%"});
  EXPECT_NE(c.sql.find("LIMIT 10"), std::string::npos);
  EXPECT_EQ(person_name_key("Yamada^Taro=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e"),
            "YAMADA^TARO");
}

}  // namespace pacs
