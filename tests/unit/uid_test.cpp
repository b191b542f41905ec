#include <gtest/gtest.h>

#include "storage/model/uid.h"

namespace pacs {

TEST(Uid, AcceptsAWellFormedUid) {
  auto uid = Uid::parse("1.2.840.10008.5.1.4.1.1.2");
  ASSERT_TRUE(uid);
  EXPECT_EQ(uid->str(), "1.2.840.10008.5.1.4.1.1.2");
}

TEST(Uid, StripsTheNulAndSpacePaddingOfUi) {
  EXPECT_EQ(Uid::parse(std::string("1.2.3\0", 6))->str(), "1.2.3");
  EXPECT_EQ(Uid::parse("1.2.3 ")->str(), "1.2.3");
}

TEST(Uid, RejectsALeadingZeroInAComponent) {
  EXPECT_FALSE(Uid::parse("1.02.3"));
}
TEST(Uid, AcceptsAZeroComponent) {
  EXPECT_TRUE(Uid::parse("1.0.3"));
}
TEST(Uid, RejectsAnEmptyComponent) {
  EXPECT_FALSE(Uid::parse("1..3"));
  EXPECT_FALSE(Uid::parse(".1.3"));
  EXPECT_FALSE(Uid::parse("1.3."));
}
TEST(Uid, RejectsPathCharacters) {
  EXPECT_FALSE(Uid::parse("1.2/../3"));
  EXPECT_FALSE(Uid::parse("1.2.3a"));
}
TEST(Uid, RejectsMoreThanSixtyFourCharacters) {
  EXPECT_TRUE(Uid::parse(std::string(1, '1') + std::string(63, '1')));
  EXPECT_FALSE(Uid::parse(std::string(65, '1')));
}
TEST(Uid, RejectsEmpty) {
  EXPECT_FALSE(Uid::parse(""));
}

}  // namespace pacs
