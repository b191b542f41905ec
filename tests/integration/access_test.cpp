// DIMSE access control: each calling AE may use only the services it is given, optionally only
// from given addresses; unknown AEs are refused with "calling AE title not recognized".
#include <dcmtk/dcmdata/dctagkey.h>
#include <gtest/gtest.h>

#include "tests/support/dicom_files.h"
#include "tests/support/mpps_scu.h"
#include "tests/support/process.h"
#include "tests/support/storescp.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
using testing::TestNode;

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<TestNode>(TestNode::Options{
        .db = "sqlite",
        .extra_flags = {
            "--peer", "DEST=127.0.0.1:" + std::to_string(destination_.port()),
            // A modality: echo and store. A viewer: query and retrieve. A worklist client,
            // bound to loopback. An archive that may only call from an address we are not.
            "--ae-permission", "CT1=echo,store", "--ae-permission", "VIEWER=find,move,get",
            "--ae-permission", "MODALITY=worklist,mpps@127.0.0.1", "--ae-permission",
            "FAR=all@192.0.2.7"}});
    node_->start();
    testing::generate_corpus(
        corpus_.path(), {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "2",
                         "--rows", "32", "--columns", "32"});
  }

  testing::ToolResult tool(std::vector<std::string> argv, const std::string& aet,
                           const std::vector<std::string>& keys = {}) {
    argv.insert(argv.end(), {"-aet", aet, "-aec", "PACSNODE"});
    return testing::run_dcmtk_tool(std::move(argv), keys, node_->dimse_port());
  }
  int echo(const std::string& aet) { return tool({"echoscu"}, aet).exit_code; }
  int store(const std::string& aet) {
    // storescu takes its files after the address.
    return testing::run({"storescu", "-aet", aet, "-aec", "PACSNODE", "+sd", "+r", "127.0.0.1",
                         std::to_string(node_->dimse_port()), corpus_.path().string()},
                        std::chrono::seconds(120), {"TCP_NODELAY=1"})
        .exit_code;
  }
  int find(const std::string& aet) {
    return tool({"findscu", "-S"}, aet, {"QueryRetrieveLevel=STUDY", "StudyInstanceUID"}).exit_code;
  }
  int worklist(const std::string& aet) {
    return tool({"findscu", "-W"}, aet, {"AccessionNumber"}).exit_code;
  }
  testing::ToolResult move(const std::string& aet) {
    return tool({"movescu", "-S", "-aem", "DEST"}, aet,
                {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study_uid()});
  }
  testing::ToolResult get(const std::string& aet) {
    return tool({"getscu", "-S", "-od", out_.path().string()}, aet,
                {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study_uid()});
  }
  std::string study_uid() {
    return testing::value_of(testing::files_below(corpus_.path()).front(),
                             DcmTagKey(0x0020, 0x000D));
  }

  testing::TempDir corpus_, out_;
  testing::Storescp destination_;
  std::unique_ptr<TestNode> node_;
};

TEST_F(AccessTest, EachServiceIsAllowedOrDeniedPerCallingAe) {
  EXPECT_EQ(echo("CT1"), 0);
  EXPECT_NE(echo("VIEWER"), 0) << "VIEWER may not echo";
  EXPECT_NE(store("VIEWER"), 0) << "VIEWER may not store";
  EXPECT_EQ(node_->open_index()->counts()->instances, 0);
  ASSERT_EQ(store("CT1"), 0) << node_->log();
  const auto sent = testing::files_below(corpus_.path()).size();
  EXPECT_EQ(node_->open_index()->counts()->instances, static_cast<std::int64_t>(sent));

  EXPECT_EQ(find("VIEWER"), 0);
  EXPECT_NE(find("CT1"), 0) << "CT1 may not query";
  EXPECT_NE(find("MODALITY"), 0) << "MODALITY may query the worklist only";
  EXPECT_EQ(worklist("MODALITY"), 0);
  EXPECT_NE(worklist("VIEWER"), 0) << "VIEWER may not query the worklist";

  auto moved = move("VIEWER");
  EXPECT_EQ(moved.exit_code, 0) << moved.output;
  EXPECT_EQ(destination_.files().size(), sent);
  EXPECT_NE(move("CT1").exit_code, 0) << "CT1 may not move";

  auto got = get("VIEWER");
  EXPECT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(testing::files_below(out_.path()).size(), sent) << got.output;
  auto refused_get = get("CT1");
  EXPECT_EQ(refused_get.output.find("Received Final Get Response (Success)"), std::string::npos)
      << "CT1 may not get";

  EXPECT_NO_THROW(testing::MppsScu(node_->dimse_port(), "MODALITY"));
  EXPECT_THROW(testing::MppsScu(node_->dimse_port(), "CT1"), std::runtime_error);
}

TEST_F(AccessTest, UnknownAesAndAesFromTheWrongAddressAreRefused) {
  auto unknown = tool({"echoscu"}, "STRANGER");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("Calling AE Title Not Recognized"), std::string::npos)
      << unknown.output;
  auto elsewhere = tool({"echoscu"}, "FAR");
  EXPECT_NE(elsewhere.exit_code, 0) << "FAR may only call from 192.0.2.7";
  EXPECT_NE(elsewhere.output.find("Association Rejected"), std::string::npos) << elsewhere.output;
  EXPECT_NE(node_->log().find("calling AE FAR may not call from 127.0.0.1"), std::string::npos)
      << node_->log();
  EXPECT_NE(node_->log().find("calling AE STRANGER from 127.0.0.1 is not known"),
            std::string::npos);
}

}  // namespace
}  // namespace pacs
