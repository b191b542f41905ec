// The JPEG 2000 codec: lossless round trips are sample-exact for every layout it takes, frame by
// frame and through DCMTK's representations (multi-frame, colour by plane); lossy coding records
// itself; bad codestreams are errors, not crashes.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "codecs/j2k.h"
#include "codecs/registry.h"
#include "tests/support/test_node.h"

namespace pacs::codecs {
namespace {

// Samples that use the whole range of the layout, sign-extended to bits_allocated as DICOM
// writers do, with runs so that the coder has structure to find.
std::vector<unsigned char> frame_of(const FrameLayout& layout, std::uint32_t seed) {
  std::mt19937 random(seed);
  const std::int32_t lowest = layout.is_signed ? -(1 << (layout.bits_stored - 1)) : 0;
  const std::int32_t highest =
      layout.is_signed ? (1 << (layout.bits_stored - 1)) - 1 : (1 << layout.bits_stored) - 1;
  std::uniform_int_distribution<std::int32_t> value(lowest, highest);
  std::vector<unsigned char> frame(layout.bytes());
  const std::size_t samples = layout.bytes() / (layout.bits_allocated / 8);
  std::int32_t current = 0;
  for (std::size_t i = 0; i < samples; ++i) {
    if (i % 7 == 0) current = value(random);
    if (layout.bits_allocated == 8) {
      frame[i] = static_cast<unsigned char>(current);
    } else {
      const auto word = static_cast<std::uint16_t>(current);
      std::memcpy(&frame[2 * i], &word, 2);
    }
  }
  return frame;
}

struct Case {
  const char* name;
  FrameLayout layout;
};

class J2kFrames : public ::testing::TestWithParam<Case> {};

TEST_P(J2kFrames, LosslessRoundTripIsExact) {
  const FrameLayout& layout = GetParam().layout;
  const auto frame = frame_of(layout, 7);
  auto coded = encode_j2k(frame, layout, {});
  ASSERT_TRUE(coded) << coded.error().message;
  EXPECT_LT(coded->size(), frame.size() + 1024);
  auto declared = j2k_layout(*coded);
  ASSERT_TRUE(declared) << declared.error().message;
  EXPECT_EQ(declared->columns, layout.columns);
  EXPECT_EQ(declared->rows, layout.rows);
  EXPECT_EQ(declared->samples, layout.samples);
  EXPECT_EQ(declared->bits_stored, layout.bits_stored);
  EXPECT_EQ(declared->is_signed, layout.is_signed);
  std::vector<unsigned char> decoded(layout.bytes());
  auto done = decode_j2k(*coded, layout, decoded, 2);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(decoded, frame);
}

INSTANTIATE_TEST_SUITE_P(Layouts, J2kFrames,
                         ::testing::Values(Case{"grey8", {67, 45, 1, 8, 8, false}},
                                           Case{"grey8signed", {64, 64, 1, 8, 8, true}},
                                           Case{"grey12", {128, 96, 1, 16, 12, false}},
                                           Case{"grey12signed", {128, 96, 1, 16, 12, true}},
                                           Case{"grey16", {100, 80, 1, 16, 16, false}},
                                           Case{"grey16signed", {100, 80, 1, 16, 16, true}},
                                           Case{"rgb8", {50, 40, 3, 8, 8, false}},
                                           Case{"rgb16", {33, 17, 3, 16, 16, false}},
                                           Case{"tiny", {1, 1, 1, 16, 12, true}}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(J2k, BadCodestreamsAreErrors) {
  const FrameLayout layout{64, 64, 1, 16, 12, false};
  const auto frame = frame_of(layout, 3);
  auto coded = encode_j2k(frame, layout, {});
  ASSERT_TRUE(coded);
  std::vector<unsigned char> out(layout.bytes());
  const std::vector<unsigned char> garbage(200, 0x5A);
  EXPECT_EQ(decode_j2k(garbage, layout, out).error().code, ErrorCode::Malformed);
  const std::vector<unsigned char> cut(coded->begin(), coded->begin() + coded->size() / 2);
  EXPECT_EQ(decode_j2k(cut, layout, out).error().code, ErrorCode::Malformed)
      << "a truncated codestream is an error, not a partial image";
  const FrameLayout other{32, 64, 1, 16, 12, false};
  EXPECT_EQ(decode_j2k(*coded, other, out).error().code, ErrorCode::Malformed)
      << "an image that is not the one the data set describes";
  EXPECT_FALSE(encode_j2k(frame, FrameLayout{64, 64, 2, 16, 12, false}, {}));
}

// A data set of `frames` frames of `layout` (colour by plane when planar), and its pixel bytes.
std::unique_ptr<DcmFileFormat> image(const FrameLayout& layout, Uint32 frames, bool planar,
                                     std::vector<unsigned char>& pixels) {
  auto file = std::make_unique<DcmFileFormat>();
  DcmDataset& d = *file->getDataset();
  d.putAndInsertString(DCM_SOPClassUID, "1.2.840.10008.5.1.4.1.1.7");
  d.putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.5.6.7");
  d.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(layout.rows));
  d.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(layout.columns));
  d.putAndInsertUint16(DCM_SamplesPerPixel, layout.samples);
  d.putAndInsertUint16(DCM_BitsAllocated, layout.bits_allocated);
  d.putAndInsertUint16(DCM_BitsStored, layout.bits_stored);
  d.putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(layout.bits_stored - 1));
  d.putAndInsertUint16(DCM_PixelRepresentation, layout.is_signed ? 1 : 0);
  d.putAndInsertString(DCM_PhotometricInterpretation, layout.samples == 3 ? "RGB" : "MONOCHROME2");
  if (layout.samples == 3) d.putAndInsertUint16(DCM_PlanarConfiguration, planar ? 1 : 0);
  d.putAndInsertString(DCM_NumberOfFrames, std::to_string(frames).c_str());
  pixels.clear();
  for (Uint32 f = 0; f < frames; ++f) {
    const auto frame = frame_of(layout, 100 + f);
    pixels.insert(pixels.end(), frame.begin(), frame.end());
  }
  if (layout.bits_allocated == 8)
    d.putAndInsertUint8Array(DCM_PixelData, pixels.data(),
                             static_cast<unsigned long>(pixels.size()));
  else
    d.putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(pixels.data()),
                              static_cast<unsigned long>(pixels.size() / 2));
  return file;
}

std::vector<unsigned char> pixel_bytes(DcmDataset& d, std::size_t size) {
  const Uint8* data = nullptr;
  DcmElement* element = nullptr;
  if (d.findAndGetElement(DCM_PixelData, element).bad()) return {};
  Uint8* bytes = nullptr;
  element->getUint8Array(bytes);
  data = bytes;
  return data ? std::vector<unsigned char>(data, data + size) : std::vector<unsigned char>{};
}

// The planes of a colour frame laid out pixel by pixel.
std::vector<unsigned char> interleaved(const std::vector<unsigned char>& planar,
                                       const FrameLayout& layout, Uint32 frames) {
  std::vector<unsigned char> out(planar.size());
  const std::size_t n = static_cast<std::size_t>(layout.columns) * layout.rows;
  const std::size_t b = layout.bits_allocated / 8;
  for (Uint32 f = 0; f < frames; ++f)
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t c = 0; c < 3; ++c)
        std::memcpy(&out[f * layout.bytes() + (p * 3 + c) * b],
                    &planar[f * layout.bytes() + (c * n + p) * b], b);
  return out;
}

class J2kDataSets : public ::testing::TestWithParam<E_TransferSyntax> {
 protected:
  CodecRegistry codecs_;
};

TEST_P(J2kDataSets, MultiFrameAndPlanarColourSurviveAFileRoundTrip) {
  const bool lossless = GetParam() == EXS_JPEG2000LosslessOnly;
  testing::TempDir dir;
  struct Shape {
    FrameLayout layout;
    bool planar;
  };
  for (const Shape& shape :
       {Shape{{48, 40, 1, 16, 12, true}, false}, Shape{{30, 20, 3, 8, 8, false}, true}}) {
    std::vector<unsigned char> pixels;
    auto file = image(shape.layout, 3, shape.planar, pixels);
    DcmDataset& d = *file->getDataset();
    ASSERT_TRUE(d.chooseRepresentation(GetParam(), nullptr).good());
    ASSERT_TRUE(d.canWriteXfer(GetParam()));
    const auto path = dir.path() / "j2k.dcm";
    ASSERT_TRUE(file->saveFile(path.c_str(), GetParam()).good());

    DcmFileFormat again;
    ASSERT_TRUE(again.loadFile(path.c_str()).good());
    DcmDataset& back = *again.getDataset();
    EXPECT_EQ(back.getOriginalXfer(), GetParam());
    DcmElement* element = nullptr;
    ASSERT_TRUE(back.findAndGetElement(DCM_PixelData, element).good());
    DcmPixelSequence* sequence = nullptr;
    ASSERT_TRUE(static_cast<DcmPixelData*>(element)
                    ->getEncapsulatedRepresentation(GetParam(), nullptr, sequence)
                    .good());
    EXPECT_EQ(sequence->card(), 4u) << "an offset table and one fragment per frame";
    ASSERT_TRUE(back.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).good());
    OFString lossy;
    back.findAndGetOFString(DCM_LossyImageCompression, lossy);
    Uint16 planar = 9;
    back.findAndGetUint16(DCM_PlanarConfiguration, planar);
    if (shape.layout.samples == 3) {
      EXPECT_EQ(planar, 0);
    }
    if (!lossless) {
      EXPECT_EQ(lossy, "01");
      OFString method;
      back.findAndGetOFString(DCM_LossyImageCompressionMethod, method);
      EXPECT_EQ(method, "ISO_15444_1");
      continue;
    }
    EXPECT_NE(lossy, "01");
    const auto expected = shape.planar ? interleaved(pixels, shape.layout, 3) : pixels;
    EXPECT_EQ(pixel_bytes(back, expected.size()), expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Syntaxes, J2kDataSets,
                         ::testing::Values(EXS_JPEG2000LosslessOnly, EXS_JPEG2000));

}  // namespace
}  // namespace pacs::codecs
