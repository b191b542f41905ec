// Deflated objects are read from a bounded inflated copy (pacsnode/services/deflated.h).
#include "pacsnode/services/deflated.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pacsnode/services/ingest.h"
#include "tests/support/dicom_files.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {

// A deflated Secondary Capture object carrying `zeros` bytes of zeros in a private OB value: a few
// kilobytes on disk whatever its inflated size.
std::filesystem::path deflated_object(const std::filesystem::path& dir, std::size_t zeros) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  ds.putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  ds.putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.9.7136.42.1");
  ds.putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.9.7136.42.2");
  ds.putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.9.7136.42.3");
  ds.putAndInsertString(DCM_PatientID, "DEFLATE-1");
  ds.putAndInsertString(DcmTag(0x0009, 0x0010, EVR_LO), "PACSNODE TEST");
  const std::vector<Uint8> payload(zeros, 0);
  ds.putAndInsertUint8Array(DcmTag(0x0009, 0x1001, EVR_OB), payload.data(),
                            static_cast<unsigned long>(payload.size()));
  const auto path = dir / "deflated.dcm";
  EXPECT_TRUE(file.saveFile(path.c_str(), EXS_DeflatedLittleEndianExplicit).good());
  return path;
}

TEST(Deflated, AnObjectReadsFromItsInflatedCopy) {
  testing::TempDir dir;
  const auto path = deflated_object(dir.path(), 8 << 20);
  ASSERT_LT(std::filesystem::file_size(path), 64u << 10);  // 8 MB of zeros deflate to little
  auto parsed = parse_received(path, std::nullopt, {});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->entry.instance.sop_instance_uid.str(), "1.2.826.0.1.3680043.9.7136.42.1");
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".inflated")) << "the copy is removed";
}

TEST(Deflated, InflatingStopsAtTheLimit) {
  testing::TempDir dir;
  const auto path = deflated_object(dir.path(), 8 << 20);
  const auto found = check_deflation(path);
  ASSERT_EQ(found.kind, Deflation::Deflated);
  const std::uint64_t offset = found.data_set_offset;
  const auto out = dir.path() / "inflated";
  auto bounded = inflate_data_set(path, offset, out, 1 << 20);
  ASSERT_FALSE(bounded);
  EXPECT_EQ(bounded.error().code, ErrorCode::Malformed);
  EXPECT_NE(bounded.error().message.find("inflates beyond 1 MB"), std::string::npos);
  ASSERT_TRUE(inflate_data_set(path, offset, out, 16 << 20));
  EXPECT_GT(std::filesystem::file_size(out), std::uint64_t{8} << 20);
}

TEST(Deflated, OnlyADeflatedObjectTakesTheInflatingPath) {
  testing::TempDir dir;
  const auto path = deflated_object(dir.path(), 1024);
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile(path.c_str()).good());
  EXPECT_EQ(check_deflation(path).kind, Deflation::Deflated);
  for (const E_TransferSyntax other : {EXS_LittleEndianExplicit, EXS_LittleEndianImplicit}) {
    ASSERT_TRUE(file.saveFile(path.c_str(), other).good());
    EXPECT_EQ(check_deflation(path).kind, Deflation::NotDeflated) << other;
    EXPECT_TRUE(parse_received(path, std::nullopt, {}));
  }
  testing::write_all(path, "not a DICOM file at all");
  EXPECT_EQ(check_deflation(path).kind, Deflation::NotDeflated);
}

TEST(Deflated, ACutStreamIsMalformed) {
  testing::TempDir dir;
  const auto path = deflated_object(dir.path(), 1 << 20);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 100);
  auto parsed = parse_received(path, std::nullopt, {});
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, ErrorCode::Malformed);
}

}  // namespace
}  // namespace pacs
