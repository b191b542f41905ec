#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <gtest/gtest.h>

#include "pacsnode/services/routing.h"
#include "pacsnode/services/wildcard.h"

namespace pacs {

std::vector<RouteRule> rules(std::initializer_list<const char*> specs) {
  std::vector<RouteRule> out;
  for (const char* spec : specs) out.push_back(parse_route(spec).value());
  return out;
}

TEST(Routing, EveryMatchingRuleAddsItsDestinationsOnce) {
  DcmDataset ct;
  ct.putAndInsertString(DCM_Modality, "CT");
  ct.putAndInsertString(DCM_StudyDescription, "CT HEAD W/O");
  const auto r = rules({"modality=CT->ARCHIVE", "StudyDescription=*HEAD*->NEURO,ARCHIVE",
                        "modality=MR->MRONLY", "calling_aet=CT?->FROMCT", "->ALL"});
  EXPECT_EQ(destinations_for(r, "CT1", ct),
            (std::vector<std::string>{"ARCHIVE", "NEURO", "FROMCT", "ALL"}));
  EXPECT_EQ(destinations_for(r, "MR1", ct), (std::vector<std::string>{"ARCHIVE", "NEURO", "ALL"}));
  EXPECT_EQ(destinations_for(r, "", ct), (std::vector<std::string>{"ARCHIVE", "NEURO", "ALL"}));
}

TEST(Routing, AMissingAttributeMatchesOnlyAUniversalPattern) {
  DcmDataset empty;
  EXPECT_TRUE(destinations_for(rules({"modality=CT->A"}), "X", empty).empty());
  EXPECT_EQ(destinations_for(rules({"modality=*->A"}), "X", empty), std::vector<std::string>{"A"});
}

TEST(Wildcard, StarAndQuestionMark) {
  EXPECT_TRUE(wildcard_match("*", ""));
  EXPECT_TRUE(wildcard_match("D?E*", "DOE^JANE"));
  EXPECT_TRUE(wildcard_match("*HEAD*", "CT HEAD"));
  EXPECT_FALSE(wildcard_match("*HEAD", "CT HEAD W/O"));
  EXPECT_FALSE(wildcard_match("?", ""));
  EXPECT_TRUE(wildcard_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(wildcard_match("a*b*c", "aXXbYY"));
}

}  // namespace pacs
