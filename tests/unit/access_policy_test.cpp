#include "pacsnode/dimse/access_policy.h"

#include <gtest/gtest.h>

#include <fstream>

#include "pacsnode/app/config.h"
#include "tests/support/test_node.h"

namespace pacs::dimse {
namespace {

using Verdict = AccessPolicy::Verdict;

TEST(AccessPolicy, WithoutNamedAesEveryoneMayDoEverything) {
  AccessPolicy open;
  EXPECT_EQ(open.admit("ANYONE", "192.0.2.1"), Verdict::Accept);
  EXPECT_TRUE(open.allows("ANYONE", DimseService::Store));
}

TEST(AccessPolicy, NamedAesGetTheirServicesAndOthersAreRefused) {
  AccessPolicy policy;
  policy.permit("CT1", parse_ae_permission("CT1=echo,store")->second);
  policy.permit("WL", parse_ae_permission("WL=worklist@10.0.0.1,10.0.0.2")->second);
  EXPECT_EQ(policy.admit("CT1", "192.0.2.1"), Verdict::Accept);
  EXPECT_TRUE(policy.allows("CT1", DimseService::Store));
  EXPECT_FALSE(policy.allows("CT1", DimseService::Find));
  EXPECT_EQ(policy.admit("OTHER", "10.0.0.1"), Verdict::UnknownAe);
  EXPECT_FALSE(policy.allows("OTHER", DimseService::Echo));
  EXPECT_EQ(policy.admit("WL", "10.0.0.2"), Verdict::Accept);
  EXPECT_EQ(policy.admit("WL", "10.0.0.3"), Verdict::WrongAddress);
  policy.set_unknown_aes_allowed(true);
  EXPECT_EQ(policy.admit("OTHER", "10.0.0.1"), Verdict::Accept);
  EXPECT_TRUE(policy.allows("OTHER", DimseService::Mpps));
  EXPECT_FALSE(policy.allows("WL", DimseService::Mpps)) << "a named AE keeps its own list";
}

TEST(AccessPolicy, SopClassesMapOntoTheirServices) {
  EXPECT_EQ(service_of_sop_class("1.2.840.10008.1.1", false), DimseService::Echo);
  EXPECT_EQ(service_of_sop_class("1.2.840.10008.5.1.4.1.2.2.1", false), DimseService::Find);
  EXPECT_EQ(service_of_sop_class("1.2.840.10008.5.1.4.1.2.1.2", false), DimseService::Move);
  EXPECT_EQ(service_of_sop_class("1.2.840.10008.5.1.4.1.2.2.3", false), DimseService::Get);
  EXPECT_EQ(service_of_sop_class("1.2.840.10008.5.1.4.31", false), DimseService::Worklist);
  EXPECT_EQ(service_of_sop_class("1.2.840.10008.3.1.2.3.3", false), DimseService::Mpps);
  EXPECT_EQ(service_of_sop_class("1.2.840.10008.5.1.4.1.1.2", true), DimseService::Store);
  EXPECT_EQ(service_of_sop_class("1.2.3", false), std::nullopt);
}

TEST(AccessPolicy, BadPermissionsAreExplained) {
  for (const char* bad :
       {"CT1", "=echo", "CT1=", "CT1=echo,,store", "CT1=fly", "CT1=echo@", "CT1=echo@1.2.3.4,"}) {
    auto parsed = parse_ae_permission(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().message.find("AET=SERVICE"), std::string::npos);
  }
  // echo, store, find, move, get, worklist, mpps, commitment
  EXPECT_EQ(parse_ae_permission("ARCHIVE=all")->second.services.size(), 8u);
}

TEST(AccessPolicy, TheConfigFileNamesAesWithServicesAndAddresses) {
  testing::TempDir dir;
  const auto file = dir.path() / "pacsnode.toml";
  std::ofstream(file) << "[dimse]\nunknown_aes = \"reject\"\n"
                         "[dimse.aes.CT1]\nservices = [\"echo\", \"store\"]\n"
                         "addresses = [\"10.1.2.3\"]\n[dimse.aes.VIEWER]\nservices = [\"find\"]\n";
  auto parsed = parse_command_line({"--config", file.string()});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->config.ae_permissions,
            (std::vector<std::string>{"CT1=echo,store@10.1.2.3", "VIEWER=find"}));
  EXPECT_EQ(parsed->config.unknown_aes_allowed, false);
  std::ofstream(file) << "[dimse.aes.CT1]\nservices = [\"teleport\"]\n";
  auto bad = parse_command_line({"--config", file.string()});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'teleport' is not a service"), std::string::npos);
}

}  // namespace
}  // namespace pacs::dimse
