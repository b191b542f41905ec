#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "pacsnode/app/config.h"
#include "tests/support/test_node.h"

namespace pacs {

TEST(Config, DefaultsAreTheEmbeddedNode) {
  auto parsed = parse_command_line({});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->config.data_dir, "./pacsnode-data");
  EXPECT_EQ(parsed->config.db, "sqlite");
  EXPECT_EQ(parsed->config.aet, "PACSNODE");
  EXPECT_EQ(parsed->config.dimse_port, 11112);
  EXPECT_EQ(parsed->config.http_port, 8080);
  EXPECT_EQ(parsed->config.mllp_port, 2575);
}

TEST(Config, FlagsOverrideTheFileWhereverTheyStand) {
  testing::TempDir dir;
  const auto file = dir.path() / "pacsnode.toml";
  std::ofstream(file) << "aet = \"FROMFILE\"\ndb = \"sqlite\"\n[dimse]\nport = 4000\n"
                         "duplicate_policy = \"reject\"\nallowed_calling_aets = [\"CT1\"]\n"
                         "[peers]\nARCHIVE = \"127.0.0.1:5000\"\n";
  auto parsed = parse_command_line({"--dimse-port", "4100", "--config", file.string()});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->config.aet, "FROMFILE");
  EXPECT_EQ(parsed->config.dimse_port, 4100);
  EXPECT_EQ(parsed->config.duplicate_policy, DuplicatePolicy::Reject);
  EXPECT_EQ(parsed->config.allowed_calling_aets.count("CT1"), 1u);
  ASSERT_EQ(parsed->config.peers.count("ARCHIVE"), 1u);
  EXPECT_EQ(parsed->config.peers.at("ARCHIVE").port, 5000);
}

TEST(Config, RepeatedPeersAreAllKept) {
  auto parsed = parse_command_line({"--peer", "A=127.0.0.1:1000", "--peer=B=localhost:2000"});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->config.peers.size(), 2u);
  EXPECT_EQ(parsed->config.peers.at("B").host, "localhost");
}

TEST(Config, BadValuesAreOneLineErrors) {
  EXPECT_FALSE(parse_command_line({"--dimse-port", "70000"}));
  EXPECT_FALSE(parse_command_line({"--peer", "NOPORT"}));
  EXPECT_FALSE(parse_command_line({"--aet", "THIS-AE-TITLE-IS-TOO-LONG"}));
  EXPECT_FALSE(parse_command_line({"--duplicate-policy", "sometimes"}));
  auto unknown = parse_command_line({"--colour", "blue"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "unknown flag --colour (see --help)");
}

TEST(Config, ABrokenFileNamesTheFileAndLine) {
  testing::TempDir dir;
  const auto file = dir.path() / "bad.toml";
  std::ofstream(file) << "aet = \"X\"\n[dimse\nport = 1\n";
  auto parsed = parse_command_line({"--config", file.string()});
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("bad.toml"), std::string::npos);
  EXPECT_NE(parsed.error().message.find("line 2"), std::string::npos) << parsed.error().message;
}

TEST(Config, AWrongTypeInTheFileIsAnError) {
  testing::TempDir dir;
  const auto file = dir.path() / "typed.toml";
  std::ofstream(file) << "[dimse]\nport = \"eleven\"\n";
  auto parsed = parse_command_line({"--config", file.string()});
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("dimse.port"), std::string::npos);
}

TEST(Config, TheReadmeExampleIsAValidConfig) {
  std::ifstream readme(std::string(PACSNODE_SOURCE_DIR) + "/README.md");
  std::stringstream all;
  all << readme.rdbuf();
  const std::string text = all.str();
  const auto start = text.find("```toml\n");
  ASSERT_NE(start, std::string::npos);
  const auto end = text.find("```", start + 8);
  testing::TempDir dir;
  const auto file = dir.path() / "readme.toml";
  std::ofstream(file) << text.substr(start + 8, end - start - 8);
  auto parsed = parse_command_line({"--config", file.string()});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->config.routes.size(), 1u);
  EXPECT_EQ(parsed->config.routes[0].destinations, std::vector<std::string>{"ARCHIVE"});
  EXPECT_EQ(parsed->config.max_find_results, 10000u);
  EXPECT_EQ(parsed->config.default_issuer_by_aet.at("CT1"), "HOSP_A");
  EXPECT_EQ(parsed->config.default_issuer_by_application.at("RIS_A"), "HOSP_A");
  EXPECT_EQ(parsed->config.forwarding.max_attempts, 20u);
  EXPECT_EQ(parsed->config.peers.at("ARCHIVE").port, 4242);
  EXPECT_EQ(parsed->config.hl7_destinations.at("EHR").port, 2576);
  EXPECT_EQ(parsed->config.worklist_station_aets.at("MR"), "MR01");
  EXPECT_EQ(parsed->config.mllp_idle_seconds, 300u);
  EXPECT_EQ(parsed->config.study_quiet_seconds, 60u);
  EXPECT_TRUE(parsed->config.workflow.coerce_demographics_from_order);
  EXPECT_EQ(parsed->config.public_url, "http://pacs.example:8080");
  EXPECT_NE(parsed->config.viewer_url.find("{study}"), std::string::npos);
}

TEST(Config, Hl7FlagsAreCheckedLikeTheOthers) {
  auto ok = parse_command_line({"--hl7-destination", "RIS=127.0.0.1:2576", "--mllp-port", "0",
                                "--worklist-station-aet", "CT=CT01", "--study-quiet-seconds", "5",
                                "--study-complete-message", "orm", "--public-url",
                                "http://pacs.example:8080/", "--order-demographics", "keep"});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->config.hl7_destinations.at("RIS").host, "127.0.0.1");
  EXPECT_EQ(ok->config.mllp_port, 0);
  EXPECT_EQ(ok->config.worklist_station_aets.at("CT"), "CT01");
  EXPECT_TRUE(ok->config.study_complete_as_orm);
  EXPECT_FALSE(ok->config.workflow.coerce_demographics_from_order);
  EXPECT_EQ(ok->config.public_url, "http://pacs.example:8080") << "the trailing slash goes";
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--hl7-destination", "RIS"},
        {"--hl7-destination", "=127.0.0.1:1"},
        {"--hl7-destination", "RIS=127.0.0.1:99999"},
        {"--worklist-station-aet", "CT"},
        {"--worklist-station-aet", "CT=THIS-AE-TITLE-IS-TOO-LONG"},
        {"--study-quiet-seconds", "0"},
        {"--study-complete-message", "mail"},
        {"--order-demographics", "maybe"},
        {"--mllp-max-message-kb", "0"},
        {"--public-url", "ftp://x"}}) {
    auto parsed = parse_command_line(bad);
    ASSERT_FALSE(parsed) << bad[0] << " " << bad[1];
    EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos);
  }
}

TEST(Config, RoutesNeedADestinationAndKnownAttributes) {
  EXPECT_FALSE(parse_command_line({"--route", "modality=CT"}));
  EXPECT_FALSE(parse_command_line({"--route", "modality=CT->"}));
  EXPECT_FALSE(parse_command_line({"--route", "NoSuchAttribute=1->A"}));
  auto ok = parse_command_line({"--route", "calling_aet=CT*,00081030=*HEAD*->A,B"});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->config.routes[0].calling_aet, "CT*");
  EXPECT_EQ(ok->config.routes[0].destinations.size(), 2u);
}

}  // namespace pacs
