// The DIMSE listener itself: the association limit, and that serving associations leaves nothing
// behind in the node (threads and their stacks are returned).
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scu.h>
#include <dcmtk/oflog/oflog.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
using testing::TestNode;

// An association that stays open (a verification context only) until it is released.
std::unique_ptr<DcmSCU> open_association(int port) {
  OFLog::configure(OFLogger::WARN_LOG_LEVEL);  // not a line per association in the test log
  auto scu = std::make_unique<DcmSCU>();
  scu->setAETitle("HOLDER");
  scu->setPeerAETitle("PACSNODE");
  scu->setPeerHostName("127.0.0.1");
  scu->setPeerPort(static_cast<Uint16>(port));
  OFList<OFString> syntaxes;
  syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
  scu->addPresentationContext(UID_VerificationSOPClass, syntaxes);
  if (scu->initNetwork().bad() || scu->negotiateAssociation().bad()) return nullptr;
  return scu;
}

std::size_t memory_mappings_of(pid_t pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::size_t lines = 0;
  for (std::string line; std::getline(maps, line);) ++lines;
  return lines;
}

TEST(AssociationTest, OneBeyondTheLimitIsRefusedAndThePortStaysOpen) {
  TestNode node({.db = "sqlite", .extra_flags = {"--max-associations", "2"}});
  node.start();
  auto first = open_association(node.dimse_port());
  auto second = open_association(node.dimse_port());
  ASSERT_TRUE(first && second) << node.log();
  EXPECT_EQ(open_association(node.dimse_port()), nullptr) << "a third association was accepted";

  first->releaseAssociation();
  first.reset();
  // The ended association's thread is joined within a turn of the accept loop (about a second).
  std::unique_ptr<DcmSCU> replacement;
  for (int attempt = 0; attempt < 50 && !replacement; ++attempt) {
    replacement = open_association(node.dimse_port());
    if (!replacement) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(replacement, nullptr) << "the freed slot was not given to a new association";
  EXPECT_NE(node.log().find("one more is refused"), std::string::npos) << node.log();
}

TEST(AssociationTest, ServedAssociationsLeaveNoThreadStacksBehind) {
  TestNode node({.db = "sqlite", .extra_flags = {}});
  node.start();
  // Warm up: the first associations create the node's lasting thread pools and caches.
  for (int i = 0; i < 10; ++i) ASSERT_NE(open_association(node.dimse_port()), nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const std::size_t before = memory_mappings_of(node.pid());
  constexpr int kAssociations = 150;
  for (int i = 0; i < kAssociations; ++i) {
    auto scu = open_association(node.dimse_port());
    ASSERT_NE(scu, nullptr) << "association " << i << " failed\n" << node.log();
    scu->releaseAssociation();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const std::size_t after = memory_mappings_of(node.pid());
  // A thread that is never joined keeps its stack and guard page mapped: two per association.
  EXPECT_LT(after, before + kAssociations / 4)
      << "memory mappings grew from " << before << " to " << after << " over " << kAssociations
      << " associations";
}

}  // namespace
}  // namespace pacs
