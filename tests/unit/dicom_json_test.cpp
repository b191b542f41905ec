// The DICOM JSON writer keeps its answer valid JSON whatever the stored object holds (cases found
// by the dicom_json fuzz target).
#include "dicomweb/dicom_json.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>

namespace pacs::web {
namespace {

boost::json::object parsed(const std::string& json) {
  boost::system::error_code ec;
  auto value = boost::json::parse(json, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << json;
  return ec ? boost::json::object{} : value.as_object();
}

TEST(DicomJson, NumbersJsonCannotWriteAsTheyAreGoOutAsTheStandardSays) {
  DcmDataset ds;
  // Valid DS that are not JSON numbers, one that is (its digits kept), and one that is no number.
  ds.putAndInsertString(DCM_PixelSpacing, "5.\\+.5\\012\\12.50\\abc");
  const double specials[] = {std::nan(""), HUGE_VAL, -HUGE_VAL, 0.25};
  ds.putAndInsertFloat64Array(DcmTag(0x0018, 0x9087, EVR_FD), specials, 4);
  const float fl[] = {0.1f};
  ds.putAndInsertFloat32Array(DcmTag(0x0018, 0x9089, EVR_FL), fl, 1);
  ds.putAndInsertString(DCM_InstanceNumber, "7");
  DcmItem* item = nullptr;  // the same rules inside a sequence
  ASSERT_TRUE(ds.findOrCreateSequenceItem(DCM_ReferencedImageSequence, item, -2).good());
  item->putAndInsertString(DCM_SliceThickness, "3.");
  const auto json = parsed(to_dicom_json(ds));

  const auto& spacing = json.at("00280030").at("Value").as_array();
  ASSERT_EQ(spacing.size(), 5u);
  EXPECT_EQ(spacing[0].to_number<double>(), 5.0);
  EXPECT_EQ(spacing[1].to_number<double>(), 0.5);
  EXPECT_EQ(spacing[2].to_number<double>(), 12.0);
  EXPECT_EQ(spacing[3].to_number<double>(), 12.5);
  EXPECT_EQ(spacing[4], "abc");
  EXPECT_EQ(json.at("00189087").at("Value"),
            (boost::json::array{"NaN", "Infinity", "-Infinity", 0.25}));
  EXPECT_EQ(json.at("00189089").at("Value").at(0).to_number<double>(), 0.1);
  EXPECT_EQ(json.at("00200013").at("Value").at(0), 7);
  const auto& nested = json.at("00081140").at("Value").at(0).at("00180050");
  EXPECT_EQ(nested.at("vr"), "DS");
  EXPECT_EQ(nested.at("Value").at(0).to_number<double>(), 3.0);
}

TEST(DicomJson, TextThatIsNotUtf8IsReplacedNotPassedOn) {
  DcmDataset ds;  // no Specific Character Set, yet Latin-1 bytes: common in the field
  ds.putAndInsertString(DCM_PatientName, "M\xfcller^J\xf6rg");
  ds.putAndInsertString(DCM_StudyDescription, "caf\xc3\xa9");  // valid UTF-8 stays
  const auto json = parsed(to_dicom_json(ds));
  EXPECT_EQ(json.at("00100010").at("Value").at(0).at("Alphabetic"),
            "M\xef\xbf\xbdller^J\xef\xbf\xbdrg");
  EXPECT_EQ(json.at("00081030").at("Value").at(0), "caf\xc3\xa9");
}

}  // namespace
}  // namespace pacs::web
