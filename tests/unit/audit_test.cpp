#include <gtest/gtest.h>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <sstream>

#include "security/audit_event.h"
#include "security/audit_trail.h"

namespace pacs::audit {
namespace {

TEST(AuditEvent, InstancesTransferredIsWellFormedWithItsParticipantsAndObjects) {
  TransferTally tally;
  tally.add("1.2.3", "PAT<1>&", "1.2.840.10008.5.1.4.1.1.2");
  tally.add("1.2.3", "", "1.2.840.10008.5.1.4.1.1.2");
  tally.add("1.2.3", "", "1.2.840.10008.5.1.4.1.1.4");
  const auto event = instances_transferred(true, 0, remote("CT1", "10.0.0.5", true),
                                           node_participant("PACSNODE", false), tally.studies());
  const auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764726000123));
  const std::string xml = to_xml(event, "PACSNODE", when);
  std::istringstream in(xml);
  boost::property_tree::ptree tree;
  ASSERT_NO_THROW(boost::property_tree::read_xml(in, tree)) << xml;
  const auto& m = tree.get_child("AuditMessage");
  EXPECT_EQ(m.get<std::string>("EventIdentification.<xmlattr>.EventActionCode"), "C");
  EXPECT_EQ(m.get<std::string>("EventIdentification.<xmlattr>.EventDateTime"),
            "2025-12-03T01:40:00.123Z");
  EXPECT_EQ(m.get<std::string>("EventIdentification.EventID.<xmlattr>.csd-code"), "110104");
  EXPECT_EQ(m.get<std::string>("EventIdentification.EventID.<xmlattr>.codeSystemName"), "DCM");
  EXPECT_EQ(m.get<std::string>("AuditSourceIdentification.<xmlattr>.AuditSourceID"), "PACSNODE");
  int participants = 0, studies = 0, patients = 0, instances = 0;
  for (const auto& [name, child] : m) {
    participants += name == "ActiveParticipant";
    if (name != "ParticipantObjectIdentification") continue;
    const auto type = child.get<std::string>("ParticipantObjectIDTypeCode.<xmlattr>.csd-code");
    studies += type == "110180";
    if (type == "2") {
      ++patients;
      EXPECT_EQ(child.get<std::string>("<xmlattr>.ParticipantObjectID"), "PAT<1>&")
          << "escaped in the XML, intact when read";
      EXPECT_EQ(child.get<std::string>("<xmlattr>.ParticipantObjectTypeCodeRole"), "1");
    }
    for (const auto& [inner, sop] : child)
      if (inner == "SOPClass") instances += sop.get<int>("<xmlattr>.NumberOfInstances");
  }
  EXPECT_EQ(participants, 2);
  EXPECT_EQ(studies, 1);
  EXPECT_EQ(patients, 1);
  EXPECT_EQ(instances, 3);
}

TEST(AuditEvent, SyslogLinesAreRfc5424WithTheXmlAfterABom) {
  const std::string line = syslog_line("<AuditMessage/>", 4, "host1");
  EXPECT_EQ(line.rfind("<84>1 ", 0), 0u) << "authpriv.warning for a failure";
  EXPECT_NE(line.find(" host1 pacsnode "), std::string::npos);
  EXPECT_NE(line.find(" IHE+RFC-3881 - \xEF\xBB\xBF<AuditMessage/>"), std::string::npos);
  EXPECT_EQ(syslog_line("<x/>", 0, "h").rfind("<85>1 ", 0), 0u);
}

}  // namespace
}  // namespace pacs::audit
