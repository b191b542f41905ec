// JPEG 2000 with real peers. File level: what our codec writes (through pacsnode-gencorpus)
// against GDCM's gdcmconv (a DICOM toolkit independent of DCMTK) and OpenJPEG's opj_compress and
// opj_decompress on bare codestreams, both ways, for every pixel shape. Through the node, on both
// index backends: a J2K study C-MOVEd to a storescp that accepts uncompressed syntaxes only,
// WADO-RS in the transfer syntax asked for, and /rendered.
//
// Tool limitations met here: PGM/PPM hold unsigned samples only, so signed images go to and from
// OpenJPEG as .rawl (little-endian raw planes, signedness given with -F); the OpenJPEG tools code
// one image per run, so a multi-frame object is handled frame by frame; Debian's GDCM 3.0 and
// OpenJPEG 2.5 tools cannot write HTJ2K, so HTJ2K comes from OpenJPH's ojph_compress; Debian's
// gdcmconv links the system libopenjp2, so it checks the DICOM side (fragments, offset table,
// attributes) independently of DCMTK and of us, but not another wavelet coder.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "codecs/j2k.h"
#include "codecs/registry.h"
#include "pacsnode/services/transcode.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/process.h"
#include "tests/support/storescp.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

constexpr char kExplicitLittle[] = "1.2.840.10008.1.2.1";
constexpr char kJ2kLossless[] = "1.2.840.10008.1.2.4.90";

// The pixels of a DICOM file as values: every sample of every frame in order, interleaved, each
// taken to its Bits Stored and sign-extended when signed, so that files that differ only in the
// unused high bits, the pad byte or the planar configuration compare equal.
struct Pixels {
  std::string syntax;  // the file's transfer syntax, as stored
  codecs::FrameLayout layout;
  std::uint32_t frames = 1;
  std::vector<std::int32_t> values;

  std::size_t per_frame() const {
    return static_cast<std::size_t>(layout.columns) * layout.rows * layout.samples;
  }
  std::vector<std::int32_t> frame(std::uint32_t f) const {
    const auto first = values.begin() + static_cast<std::ptrdiff_t>(f * per_frame());
    return {first, first + static_cast<std::ptrdiff_t>(per_frame())};
  }
};

std::int32_t sample_value(std::uint32_t raw, const codecs::FrameLayout& layout) {
  const std::uint32_t mask = (std::uint32_t{1} << layout.bits_stored) - 1;
  raw &= mask;
  if (layout.is_signed && (raw >> (layout.bits_stored - 1)) & 1u)
    return static_cast<std::int32_t>(raw) - static_cast<std::int32_t>(mask) - 1;
  return static_cast<std::int32_t>(raw);
}

// Values of samples laid out as FrameLayout says (8-bit bytes or little-endian 16-bit words).
std::vector<std::int32_t> values_of(const unsigned char* bytes, std::size_t count,
                                    const codecs::FrameLayout& layout) {
  std::vector<std::int32_t> out(count);
  for (std::size_t i = 0; i < count; ++i)
    out[i] = sample_value(layout.bits_allocated == 8
                              ? bytes[i]
                              : static_cast<std::uint32_t>(bytes[2 * i] | bytes[2 * i + 1] << 8),
                          layout);
  return out;
}

// Loads a file with DCMTK, decoding it with the codecs registered in this process.
Pixels pixels_of(const fs::path& file) {
  Pixels p;
  DcmFileFormat ff;
  if (ff.loadFile(file.c_str()).bad()) {
    ADD_FAILURE() << "DCMTK cannot read " << file;
    return p;
  }
  OFString syntax;
  ff.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, syntax);
  p.syntax = syntax.c_str();
  DcmDataset& ds = *ff.getDataset();
  const OFCondition decoded = ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
  if (decoded.bad() || !ds.canWriteXfer(EXS_LittleEndianExplicit)) {
    ADD_FAILURE() << "DCMTK cannot decode " << file << " (" << p.syntax << "): " << decoded.text();
    return p;
  }
  Uint16 rows = 0, columns = 0, samples = 0, allocated = 0, stored = 0, representation = 0,
         planar = 0;
  ds.findAndGetUint16(DCM_Rows, rows);
  ds.findAndGetUint16(DCM_Columns, columns);
  ds.findAndGetUint16(DCM_SamplesPerPixel, samples);
  ds.findAndGetUint16(DCM_BitsAllocated, allocated);
  ds.findAndGetUint16(DCM_BitsStored, stored);
  ds.findAndGetUint16(DCM_PixelRepresentation, representation);
  ds.findAndGetUint16(DCM_PlanarConfiguration, planar);
  Sint32 frames = 1;
  if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) frames = 1;
  p.layout = {columns, rows, samples, allocated, stored, representation == 1};
  p.frames = static_cast<std::uint32_t>(frames);
  DcmElement* element = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, element).bad() || !element) {
    ADD_FAILURE() << file << " has no pixel data";
    return p;
  }
  const std::size_t count = p.per_frame() * p.frames;
  // DCMTK keeps OW values in host order; a byte view is little endian on the hosts we run on.
  Uint8* bytes = nullptr;
  if (element->getUint8Array(bytes).bad() || !bytes ||
      element->getLength() < count * (allocated / 8)) {
    ADD_FAILURE() << file << ": pixel data of " << element->getLength() << " bytes, "
                  << count * (allocated / 8) << " expected";
    return p;
  }
  p.values = values_of(bytes, count, p.layout);
  if (samples == 3 && planar == 1) {  // colour by plane: interleave
    std::vector<std::int32_t> interleaved(p.values.size());
    const std::size_t n = static_cast<std::size_t>(rows) * columns;
    for (std::uint32_t f = 0; f < p.frames; ++f)
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < 3; ++c)
          interleaved[f * 3 * n + 3 * i + c] = p.values[f * 3 * n + c * n + i];
    p.values = std::move(interleaved);
  }
  return p;
}

// Where two sample lists first differ, for a readable failure.
std::string first_difference(const std::vector<std::int32_t>& a,
                             const std::vector<std::int32_t>& b) {
  if (a.size() != b.size())
    return std::to_string(a.size()) + " samples against " + std::to_string(b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i])
      return "sample " + std::to_string(i) + ": " + std::to_string(a[i]) + " against " +
             std::to_string(b[i]);
  return "equal";
}

#define EXPECT_SAME_SAMPLES(a, b) EXPECT_TRUE((a) == (b)) << first_difference((a), (b))

// A peer tool that must exist and succeed.
void run_tool(const std::vector<std::string>& argv) {
  const auto r = testing::run(argv, std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << argv[0]
                            << " failed (run scripts/setup.sh if it is missing): " << r.output;
}

// The stored fragments (after the Basic Offset Table) of an encapsulated file.
std::vector<std::string> fragments_of(const fs::path& file) {
  std::vector<std::string> out;
  DcmFileFormat ff;
  DcmElement* element = nullptr;
  if (ff.loadFile(file.c_str()).bad() ||
      ff.getDataset()->findAndGetElement(DCM_PixelData, element).bad())
    return out;
  auto* pixel_data = static_cast<DcmPixelData*>(element);
  const DcmRepresentationParameter* parameter = nullptr;
  DcmPixelSequence* sequence = nullptr;
  E_TransferSyntax syntax = ff.getDataset()->getOriginalXfer();
  if (pixel_data->getEncapsulatedRepresentation(syntax, parameter, sequence).bad() || !sequence)
    return out;
  for (unsigned long i = 1; i < sequence->card(); ++i) {
    DcmPixelItem* item = nullptr;
    Uint8* data = nullptr;
    if (sequence->getItem(item, i).bad() || item->getUint8Array(data).bad()) return {};
    out.emplace_back(reinterpret_cast<const char*>(data), item->getLength());
  }
  return out;
}

// ---- images in the OpenJPEG tools' formats

// Binary PGM (grey) or PPM (RGB) of unsigned samples, 16-bit big endian above 8 bits.
void write_pnm(const fs::path& file, const std::vector<std::int32_t>& samples,
               const codecs::FrameLayout& layout) {
  std::ostringstream out;
  const std::int32_t maxval = (1 << layout.bits_stored) - 1;
  out << (layout.samples == 3 ? "P6" : "P5") << "\n"
      << layout.columns << " " << layout.rows << "\n"
      << maxval << "\n";
  for (std::int32_t v : samples) {
    if (maxval > 255) out.put(static_cast<char>(v >> 8));
    out.put(static_cast<char>(v & 0xFF));
  }
  testing::write_all(file, out.str());
}

std::vector<std::int32_t> read_pnm(const fs::path& file, const codecs::FrameLayout& layout) {
  const std::string bytes = testing::read_all(file);
  std::size_t at = 0;
  // Magic, width, height and maxval, whitespace or comments between them.
  std::vector<std::string> fields;
  while (fields.size() < 4 && at < bytes.size()) {
    if (std::isspace(static_cast<unsigned char>(bytes[at]))) {
      ++at;
    } else if (bytes[at] == '#') {
      while (at < bytes.size() && bytes[at] != '\n') ++at;
    } else {
      const std::size_t start = at;
      while (at < bytes.size() && !std::isspace(static_cast<unsigned char>(bytes[at]))) ++at;
      fields.push_back(bytes.substr(start, at - start));
    }
  }
  ++at;  // the one whitespace character after maxval
  EXPECT_EQ(fields.size(), 4u);
  if (fields.size() != 4) return {};
  EXPECT_EQ(fields[0], layout.samples == 3 ? "P6" : "P5");
  EXPECT_EQ(fields[1], std::to_string(layout.columns));
  EXPECT_EQ(fields[2], std::to_string(layout.rows));
  const bool wide = std::stoi(fields[3]) > 255;
  const std::size_t count = static_cast<std::size_t>(layout.columns) * layout.rows * layout.samples;
  EXPECT_EQ(bytes.size() - at, count * (wide ? 2 : 1));
  if (bytes.size() - at < count * (wide ? 2 : 1)) return {};
  std::vector<std::int32_t> out(count);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + at;
  for (std::size_t i = 0; i < count; ++i) out[i] = wide ? p[2 * i] << 8 | p[2 * i + 1] : p[i];
  return out;
}

// OpenJPEG's .rawl: component planes one after another, little endian, 1 byte per sample up to 8
// bits of precision, else 2; signed values in two's complement.
std::size_t rawl_bytes(const codecs::FrameLayout& layout) {
  return layout.bits_stored <= 8 ? 1 : 2;
}

void write_rawl(const fs::path& file, const std::vector<std::int32_t>& samples,
                const codecs::FrameLayout& layout) {
  std::string out;
  const std::size_t n = static_cast<std::size_t>(layout.columns) * layout.rows;
  for (std::size_t c = 0; c < layout.samples; ++c)
    for (std::size_t i = 0; i < n; ++i) {
      const auto v = static_cast<std::uint32_t>(samples[i * layout.samples + c]);
      out.push_back(static_cast<char>(v & 0xFF));
      if (rawl_bytes(layout) == 2) out.push_back(static_cast<char>((v >> 8) & 0xFF));
    }
  testing::write_all(file, out);
}

std::vector<std::int32_t> read_rawl(const fs::path& file, const codecs::FrameLayout& layout) {
  const std::string bytes = testing::read_all(file);
  const std::size_t n = static_cast<std::size_t>(layout.columns) * layout.rows;
  const std::size_t width = rawl_bytes(layout);
  EXPECT_EQ(bytes.size(), n * layout.samples * width);
  if (bytes.size() < n * layout.samples * width) return {};
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::vector<std::int32_t> out(n * layout.samples);
  for (std::size_t c = 0; c < layout.samples; ++c)
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = (c * n + i) * width;
      const std::uint32_t raw =
          width == 1 ? p[at] : static_cast<std::uint32_t>(p[at] | p[at + 1] << 8);
      out[i * layout.samples + c] = sample_value(raw, layout);
    }
  return out;
}

// The image format the OpenJPEG tools take and give for a layout: PGM or PPM for unsigned samples,
// .rawl for signed ones (PNM holds no signed samples).
std::string opj_extension(const codecs::FrameLayout& layout) {
  if (layout.is_signed) return ".rawl";
  return layout.samples == 3 ? ".ppm" : ".pgm";
}

std::vector<std::int32_t> read_opj_image(const fs::path& file, const codecs::FrameLayout& layout) {
  return layout.is_signed ? read_rawl(file, layout) : read_pnm(file, layout);
}

// ---- file level: our codec against GDCM and the OpenJPEG tools

struct Shape {
  const char* name;
  std::vector<std::string> flags;  // gencorpus pixel shape flags
};

void PrintTo(const Shape& shape, std::ostream* out) {
  *out << shape.name;
}

const Shape kShapes[] = {
    {"grey8", {"--bits", "8"}},
    {"grey12", {}},
    {"grey16", {"--bits", "16"}},
    {"signed8", {"--bits", "8", "--signed"}},
    {"signed12", {"--signed"}},
    {"signed16", {"--bits", "16", "--signed"}},
    {"rgb8", {"--rgb", "--bits", "8"}},
    {"rgb16", {"--rgb", "--bits", "16"}},
    {"multiframe12", {"--frames", "3"}},
    {"multiframeRgb8", {"--rgb", "--bits", "8", "--frames", "2"}},
};

class CodecInteropTest : public ::testing::TestWithParam<Shape> {
 protected:
  // One instance of the shape, uncompressed and in JPEG 2000 (lossless and lossy): the same seed,
  // so the same pixels and UIDs. Odd sizes, so that 8-bit pixel data needs a pad byte.
  fs::path generate(const std::string& syntax) {
    std::vector<std::string> flags = {"--patients",  "1",  "--studies", "1",   "--series",  "1",
                                      "--instances", "1",  "--rows",    "37",  "--columns", "41",
                                      "--seed",      "71", "--syntax",  syntax};
    flags.insert(flags.end(), GetParam().flags.begin(), GetParam().flags.end());
    const auto files = testing::generate_corpus(dir_.path() / syntax, flags);
    EXPECT_EQ(files.size(), 1u);
    return files.at(0);
  }

  void SetUp() override {
    explicit_ = generate("explicit");
    original_ = pixels_of(explicit_);
    ours_ = generate("j2k");
    ASSERT_EQ(original_.values.size(), original_.per_frame() * original_.frames);
    ASSERT_FALSE(original_.values.empty());
  }

  const codecs::CodecRegistry codecs_;  // our J2K codec, for DCMTK in this process
  testing::TempDir dir_;
  fs::path explicit_, ours_;
  Pixels original_;
};

TEST_P(CodecInteropTest, OurJ2kIsLosslessAndGdcmDecodesItToTheOriginalPixels) {
  const Pixels ours = pixels_of(ours_);
  EXPECT_EQ(ours.syntax, kJ2kLossless);
  EXPECT_SAME_SAMPLES(ours.values, original_.values);

  const auto converted = dir_.path() / "gdcm-raw.dcm";
  run_tool({"gdcmconv", "--raw", ours_.string(), converted.string()});
  const Pixels by_gdcm = pixels_of(converted);
  EXPECT_TRUE(DcmXfer(by_gdcm.syntax.c_str()).isNotEncapsulated()) << by_gdcm.syntax;
  EXPECT_EQ(by_gdcm.frames, original_.frames);
  EXPECT_SAME_SAMPLES(by_gdcm.values, original_.values);
}

// Every lossless syntax the node produces (the transcoding service, as retrieve and ingest use
// it), decoded again by the registered codecs: the original samples, for every shape.
TEST_P(CodecInteropTest, EveryLosslessSyntaxRoundTripsExactly) {
  std::vector<std::string> syntaxes = lossless_compressed_syntaxes();
  syntaxes.push_back(UID_JPEGProcess14TransferSyntax);  // JPEG lossless, any predictor
  for (const std::string& syntax : syntaxes) {
    SCOPED_TRACE(syntax);
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(explicit_.c_str()).good());
    const auto converted = convert(*ff.getDataset(), kExplicitLittle, syntax);
    ASSERT_TRUE(converted) << converted.error().message;
    const auto file = dir_.path() / ("roundtrip-" + syntax + ".dcm");
    ASSERT_TRUE(ff.saveFile(file.c_str(), DcmXfer(syntax.c_str()).getXfer()).good());
    const Pixels decoded = pixels_of(file);
    EXPECT_EQ(decoded.syntax, syntax);
    EXPECT_EQ(decoded.frames, original_.frames);
    EXPECT_SAME_SAMPLES(decoded.values, original_.values);
  }
}

TEST_P(CodecInteropTest, WeDecodeGdcmJ2kToTheOriginalPixels) {
  const auto compressed = dir_.path() / "gdcm-j2k.dcm";
  run_tool({"gdcmconv", "--j2k", explicit_.string(), compressed.string()});
  const Pixels decoded = pixels_of(compressed);
  EXPECT_EQ(decoded.syntax, kJ2kLossless);
  EXPECT_EQ(decoded.frames, original_.frames);
  EXPECT_SAME_SAMPLES(decoded.values, original_.values);
}

TEST_P(CodecInteropTest, OpenJpegDecodesOurCodestreams) {
  const auto fragments = fragments_of(ours_);
  ASSERT_EQ(fragments.size(), original_.frames) << "one fragment per frame";
  for (std::uint32_t f = 0; f < original_.frames; ++f) {
    SCOPED_TRACE("frame " + std::to_string(f + 1));
    const auto codestream = dir_.path() / ("ours" + std::to_string(f) + ".j2k");
    const auto image = dir_.path() / ("ours" + std::to_string(f) + opj_extension(original_.layout));
    testing::write_all(codestream, fragments[f]);
    run_tool({"opj_decompress", "-i", codestream.string(), "-o", image.string()});
    EXPECT_SAME_SAMPLES(read_opj_image(image, original_.layout), original_.frame(f));
  }
}

TEST_P(CodecInteropTest, WeDecodeOpenJpegCodestreams) {
  const codecs::FrameLayout& layout = original_.layout;
  for (std::uint32_t f = 0; f < original_.frames; ++f) {
    SCOPED_TRACE("frame " + std::to_string(f + 1));
    const auto image = dir_.path() / ("frame" + std::to_string(f) + opj_extension(layout));
    const auto codestream = dir_.path() / ("opj" + std::to_string(f) + ".j2k");
    std::vector<std::string> argv = {"opj_compress", "-i", image.string(), "-o",
                                     codestream.string()};
    if (!layout.is_signed) {
      write_pnm(image, original_.frame(f), layout);
    } else {
      write_rawl(image, original_.frame(f), layout);
      argv.insert(argv.end(),
                  {"-F", std::to_string(layout.columns) + "," + std::to_string(layout.rows) + "," +
                             std::to_string(layout.samples) + "," +
                             std::to_string(layout.bits_stored) + ",s"});
    }
    run_tool(argv);
    const std::string bytes = testing::read_all(codestream);
    std::vector<unsigned char> out(layout.bytes());
    const auto decoded = codecs::decode_j2k(
        {reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, layout, out);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_SAME_SAMPLES(values_of(out.data(), original_.per_frame(), layout), original_.frame(f));
  }
}

// HTJ2K (ISO/IEC 15444-15) codestreams written by OpenJPH's ojph_compress (Debian openjph-tools),
// a coder independent of OpenJPEG: our decoder (OpenJPEG 2.5 underneath) reads them exactly.
// Unsigned shapes only, given as PGM/PPM: ojph_compress takes signed samples as raw planes only,
// and the raw convention it expects was not worked out here (neither we nor opj_decompress read
// back what it made of our .rawl planes), so signed HTJ2K is untested.
class Htj2kInteropTest : public CodecInteropTest {};

TEST_P(Htj2kInteropTest, WeDecodeHtj2kCodestreamsOfOpenJph) {
  const codecs::FrameLayout& layout = original_.layout;
  ASSERT_FALSE(layout.is_signed);
  for (std::uint32_t f = 0; f < original_.frames; ++f) {
    SCOPED_TRACE("frame " + std::to_string(f + 1));
    const auto codestream = dir_.path() / ("ht" + std::to_string(f) + ".j2c");
    const auto image = dir_.path() / ("ht" + std::to_string(f) + opj_extension(layout));
    write_pnm(image, original_.frame(f), layout);
    run_tool(
        {"ojph_compress", "-i", image.string(), "-o", codestream.string(), "-reversible", "true"});
    const std::string bytes = testing::read_all(codestream);
    // The CAP marker (0xFF50) with HT capabilities: this really is an HTJ2K codestream.
    ASSERT_NE(bytes.find("\xff\x50"), std::string::npos);
    std::vector<unsigned char> out(layout.bytes());
    const auto decoded = codecs::decode_j2k(
        {reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, layout, out);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_SAME_SAMPLES(values_of(out.data(), original_.per_frame(), layout), original_.frame(f));
  }
}

// Lossy (1.2.840.10008.1.2.4.91): GDCM reads our codestreams and gets what we get.
TEST_P(CodecInteropTest, GdcmDecodesOurLossyJ2kAsWeDo) {
  const auto lossy = generate("j2k-lossy");
  const Pixels ours = pixels_of(lossy);
  EXPECT_EQ(ours.syntax, UID_JPEG2000TransferSyntax);
  EXPECT_EQ(testing::value_of(lossy, DCM_LossyImageCompression), "01");
  const auto converted = dir_.path() / "gdcm-raw-lossy.dcm";
  run_tool({"gdcmconv", "--raw", lossy.string(), converted.string()});
  const Pixels by_gdcm = pixels_of(converted);
  EXPECT_SAME_SAMPLES(by_gdcm.values, ours.values);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CodecInteropTest, ::testing::ValuesIn(kShapes),
                         [](const ::testing::TestParamInfo<Shape>& info) {
                           return std::string(info.param.name);
                         });

std::vector<Shape> unsigned_shapes() {
  std::vector<Shape> out;
  for (const Shape& shape : kShapes)
    if (std::find(shape.flags.begin(), shape.flags.end(), "--signed") == shape.flags.end())
      out.push_back(shape);
  return out;
}

INSTANTIATE_TEST_SUITE_P(UnsignedShapes, Htj2kInteropTest, ::testing::ValuesIn(unsigned_shapes()),
                         [](const ::testing::TestParamInfo<Shape>& info) {
                           return std::string(info.param.name);
                         });

// ---- through the node

class CodecNodeTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string url;
    PACS_REQUIRE_BACKEND(GetParam(), url);
    node_ = std::make_unique<TestNode>(TestNode::Options{
        .db = url,
        .extra_flags = {"--peer", "DEST=127.0.0.1:" + std::to_string(receiver_.port()), "--peer",
                        "JLSDEST=127.0.0.1:" + std::to_string(jls_receiver_.port())}});
    node_->start();
    // Four J2K studies: 12-bit grey CT and MR, 8-bit RGB multi-frame, signed 16-bit (lossless,
    // each also written uncompressed with the same seed: the same UIDs and pixels), and a lossy
    // one, whose pixels are what our codec decodes from it here.
    const struct {
      std::vector<std::string> flags;
      const char* syntax;
      const char* storescu_option;  // which JPEG 2000 syntax storescu proposes
    } studies[] = {
        {{"--series", "2", "--instances", "2", "--modality", "mixed", "--seed", "61"},
         "j2k",
         "-xv"},
        {{"--instances", "2", "--rgb", "--bits", "8", "--frames", "3", "--seed", "62"},
         "j2k",
         "-xv"},
        {{"--instances", "1", "--bits", "16", "--signed", "--seed", "63"}, "j2k", "-xv"},
        {{"--instances", "2", "--seed", "64"}, "j2k-lossy", "-xw"},
    };
    for (const auto& study : studies) {
      std::vector<std::string> flags = {"--patients", "1",  "--studies", "1", "--series", "1",
                                        "--rows",     "48", "--columns", "40"};
      flags.insert(flags.end(), study.flags.begin(), study.flags.end());
      const fs::path dir = corpus_.path() / ("study" + std::to_string(studies_.size()));
      studies_.push_back(dir / study.syntax);
      for (const auto& f :
           testing::generate_corpus(dir / study.syntax, with(flags, {"--syntax", study.syntax}))) {
        const auto sop = testing::identity_of(f).sop_instance_uid;
        sent_[sop] = f;
        if (std::string(study.syntax) == "j2k-lossy") original_[sop] = pixels_of(f);
      }
      if (std::string(study.syntax) == "j2k")
        for (const auto& f :
             testing::generate_corpus(dir / "explicit", with(flags, {"--syntax", "explicit"})))
          original_[testing::identity_of(f).sop_instance_uid] = pixels_of(f);
      // storescu proposes that JPEG 2000 syntax besides the uncompressed ones and sends each file
      // in its own syntax: the node keeps the J2K bytes as they came.
      const auto stored = testing::run(
          {"storescu", study.storescu_option, "-aec", "PACSNODE", "+sd", "+r", "127.0.0.1",
           std::to_string(node_->dimse_port()), (dir / study.syntax).string()},
          std::chrono::seconds(120), {"TCP_NODELAY=1"});
      ASSERT_EQ(stored.exit_code, 0) << stored.output;
    }
    ASSERT_EQ(sent_.size(), 9u);
    ASSERT_EQ(original_.size(), 9u);
  }

  static std::vector<std::string> with(std::vector<std::string> flags,
                                       const std::vector<std::string>& more) {
    flags.insert(flags.end(), more.begin(), more.end());
    return flags;
  }

  testing::HttpResponse get(const std::string& path, std::vector<std::string> headers = {}) {
    return testing::http_request(node_->http_port(), "GET", "/dicom-web" + path, headers);
  }

  std::string instance_path(const fs::path& file) {
    return "/studies/" + testing::value_of(file, DCM_StudyInstanceUID) + "/series/" +
           testing::value_of(file, DCM_SeriesInstanceUID) + "/instances/" +
           testing::identity_of(file).sop_instance_uid;
  }

  // A WADO-RS instance retrieve in one transfer syntax: the one part written to a file.
  fs::path retrieve(const fs::path& sent, const std::string& syntax) {
    const auto r =
        get(instance_path(sent), {"Accept: multipart/related; type=\"application/dicom\"; "
                                  "transfer-syntax=" +
                                  syntax});
    EXPECT_EQ(r.status, 200) << syntax << ": " << r.body;
    if (r.status != 200) return {};
    std::string why;
    auto parts = testing::parse_multipart_strict(
        r.body, testing::boundary_of(r.header("content-type")), why);
    EXPECT_TRUE(parts && parts->size() == 1) << why;
    if (!parts || parts->empty()) return {};
    EXPECT_EQ(parts->front().headers["content-type"],
              "application/dicom; transfer-syntax=" + syntax);
    const auto file = corpus_.path() / ("wado" + std::to_string(counter_++) + ".dcm");
    testing::write_all(file, parts->front().body);
    return file;
  }

  // dcmdump's view of a file's transfer syntax and pixel data element.
  static std::string dump(const fs::path& file) {
    return testing::run({"dcmdump", "-M", "+P", "0002,0010", "+P", "7fe0,0010", file.string()})
        .output;
  }

  // A storescp negotiation profile: the image SOP classes of the corpus in JPEG-LS lossless only.
  static std::string jls_only_profile(const fs::path& dir) {
    const auto file = dir / "jls-only.cfg";
    testing::write_all(file,
                       "[[TransferSyntaxes]]\n[JlsLossless]\nTransferSyntax1 = JPEGLSLossless\n"
                       "[[PresentationContexts]]\n[JlsOnly]\n"
                       "PresentationContext1 = CTImageStorage\\JlsLossless\n"
                       "PresentationContext2 = MRImageStorage\\JlsLossless\n"
                       "PresentationContext3 = ComputedRadiographyImageStorage\\JlsLossless\n"
                       "PresentationContext4 = SecondaryCaptureImageStorage\\JlsLossless\n"
                       "[[Profiles]]\n[JlsOnly]\nPresentationContexts = JlsOnly\n");
    return file.string();
  }

  // Decodes one frame's codestream as /frames answered it: wrapped as the single fragment of a
  // copy of `like` (the instance's attributes) in `syntax`, then read by the registered codecs.
  Pixels decode_frame(const std::string& codestream, const std::string& syntax,
                      const fs::path& like) {
    DcmFileFormat ff;
    EXPECT_TRUE(ff.loadFile(like.c_str()).good());
    DcmDataset& ds = *ff.getDataset();
    EXPECT_TRUE(ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).good());
    ds.putAndInsertString(DCM_NumberOfFrames, "1");
    ds.putAndInsertUint16(DCM_PlanarConfiguration, 0);
    auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
    sequence->insert(new DcmPixelItem(DCM_PixelItemTag));  // empty Basic Offset Table
    auto* fragment = new DcmPixelItem(DCM_PixelItemTag);
    fragment->putUint8Array(reinterpret_cast<const Uint8*>(codestream.data()),
                            static_cast<unsigned long>(codestream.size()));
    sequence->insert(fragment);
    auto* pixel_data = new DcmPixelData(DCM_PixelData);
    const E_TransferSyntax xfer = DcmXfer(syntax.c_str()).getXfer();
    pixel_data->putOriginalRepresentation(xfer, nullptr, sequence);
    ds.insert(pixel_data, OFTrue);
    const auto file = corpus_.path() / ("frame" + std::to_string(counter_++) + ".dcm");
    EXPECT_TRUE(ff.saveFile(file.c_str(), xfer).good());
    return pixels_of(file);
  }

  testing::Storescp receiver_{{"+xe"}};  // uncompressed syntaxes only, explicit first
  testing::TempDir profile_dir_;
  testing::Storescp jls_receiver_{{"-xf", jls_only_profile(profile_dir_.path()), "JlsOnly"}};
  const codecs::CodecRegistry codecs_;
  testing::TempDir corpus_;
  std::vector<fs::path> studies_;           // the folder of each study sent
  std::map<std::string, fs::path> sent_;    // SOP Instance UID -> J2K file sent
  std::map<std::string, Pixels> original_;  // SOP Instance UID -> uncompressed pixels
  std::unique_ptr<TestNode> node_;
  int counter_ = 0;
};

TEST_P(CodecNodeTest, AJ2kStudyMovesToAReceiverOfUncompressedSyntaxesOnly) {
  for (const auto& dir : studies_) {
    const std::string study =
        testing::value_of(testing::files_below(dir).at(0), DCM_StudyInstanceUID);
    const auto r = testing::run_dcmtk_tool(
        {"movescu", "-v", "-S", "-aec", "PACSNODE", "-aem", "DEST"},
        {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study}, node_->dimse_port());
    std::smatch m;
    ASSERT_TRUE(
        std::regex_search(r.output, m, std::regex("Received Final Move Response \\(([^)]*)\\)")))
        << r.output;
    EXPECT_EQ(m[1].str(), "Success") << r.output;
  }
  std::set<std::string> arrived;
  for (const auto& file : receiver_.files()) {
    const auto id = testing::identity_of(file);
    SCOPED_TRACE(id.sop_instance_uid);
    arrived.insert(id.sop_instance_uid);
    EXPECT_TRUE(DcmXfer(id.transfer_syntax.c_str()).isNotEncapsulated()) << id.transfer_syntax;
    ASSERT_TRUE(original_.count(id.sop_instance_uid));
    const Pixels received = pixels_of(file);
    EXPECT_EQ(received.frames, original_[id.sop_instance_uid].frames);
    EXPECT_SAME_SAMPLES(received.values, original_[id.sop_instance_uid].values);
  }
  std::set<std::string> all;
  for (const auto& [sop, file] : sent_) all.insert(sop);
  EXPECT_EQ(arrived, all) << node_->log();
}

// The receiver takes JPEG-LS lossless only: the node decodes the J2K it stored and encodes each
// instance again, losslessly, in the one syntax the receiver accepted.
TEST_P(CodecNodeTest, AJ2kStudyMovesToAReceiverOfJpegLsOnly) {
  for (const auto& dir : studies_) {
    const std::string study =
        testing::value_of(testing::files_below(dir).at(0), DCM_StudyInstanceUID);
    const auto r = testing::run_dcmtk_tool(
        {"movescu", "-v", "-S", "-aec", "PACSNODE", "-aem", "JLSDEST"},
        {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study}, node_->dimse_port());
    EXPECT_NE(r.output.find("Received Final Move Response (Success)"), std::string::npos)
        << r.output << node_->log();
  }
  std::set<std::string> arrived;
  for (const auto& file : jls_receiver_.files()) {
    const auto id = testing::identity_of(file);
    SCOPED_TRACE(id.sop_instance_uid);
    arrived.insert(id.sop_instance_uid);
    EXPECT_EQ(id.transfer_syntax, UID_JPEGLSLosslessTransferSyntax);
    ASSERT_TRUE(original_.count(id.sop_instance_uid));
    const Pixels received = pixels_of(file);
    EXPECT_EQ(received.frames, original_[id.sop_instance_uid].frames);
    EXPECT_SAME_SAMPLES(received.values, original_[id.sop_instance_uid].values);
  }
  EXPECT_EQ(arrived.size(), sent_.size());
}

// A storage policy (--store-as JPEG-LS lossless): uncompressed arrivals are stored in it, J2K
// ones too (decoded and encoded again), pixel-exact; as stored, WADO-RS hands out JPEG-LS.
TEST_P(CodecNodeTest, AStoragePolicyStoresImagesInItsSyntax) {
  const auto url = testing::index_url_for(GetParam());
  ASSERT_TRUE(url);
  TestNode policy_node(TestNode::Options{
      .db = *url, .extra_flags = {"--store-as", UID_JPEGLSLosslessTransferSyntax}});
  policy_node.start();
  // The uncompressed copies where there are some (the lossless studies), else the J2K files.
  for (const auto& dir : studies_) {
    const fs::path uncompressed = dir.parent_path() / "explicit";
    const bool lossy = dir.filename() == "j2k-lossy";
    const auto sent = testing::run({"storescu", lossy ? "-xw" : "-xe", "-aec", "PACSNODE", "+sd",
                                    "+r", "127.0.0.1", std::to_string(policy_node.dimse_port()),
                                    (fs::exists(uncompressed) ? uncompressed : dir).string()},
                                   std::chrono::seconds(120), {"TCP_NODELAY=1"});
    ASSERT_EQ(sent.exit_code, 0) << sent.output;
  }
  for (const auto& [sop, file] : sent_) {
    SCOPED_TRACE(sop);
    const auto r = testing::http_request(
        policy_node.http_port(), "GET", "/dicom-web" + instance_path(file),
        {"Accept: multipart/related; type=\"application/dicom\"; transfer-syntax=*"});
    ASSERT_EQ(r.status, 200) << r.body;
    std::string why;
    auto parts = testing::parse_multipart_strict(
        r.body, testing::boundary_of(r.header("content-type")), why);
    ASSERT_TRUE(parts && parts->size() == 1) << why;
    EXPECT_EQ(
        parts->front().headers["content-type"],
        std::string("application/dicom; transfer-syntax=") + UID_JPEGLSLosslessTransferSyntax);
    const auto copy = corpus_.path() / ("policy" + std::to_string(counter_++) + ".dcm");
    testing::write_all(copy, parts->front().body);
    const Pixels pixels = pixels_of(copy);
    EXPECT_EQ(pixels.syntax, UID_JPEGLSLosslessTransferSyntax);
    EXPECT_SAME_SAMPLES(pixels.values, original_[sop].values);
  }
}

TEST_P(CodecNodeTest, WadoRsAnswersInTheTransferSyntaxAskedFor) {
  // Every uncompressed syntax, decoded by the node, as dcmdump names it.
  const std::pair<const char*, const char*> uncompressed[] = {
      {"1.2.840.10008.1.2", "=LittleEndianImplicit"},
      {kExplicitLittle, "=LittleEndianExplicit"},
      {"1.2.840.10008.1.2.1.99", "=DeflatedLittleEndianExplicit"},
      {"1.2.840.10008.1.2.2", "=BigEndianExplicit"}};
  for (const auto& [sop, sent] : sent_) {
    SCOPED_TRACE(sop);
    for (const auto& [syntax, name] : uncompressed) {
      SCOPED_TRACE(syntax);
      const auto file = retrieve(sent, syntax);
      ASSERT_FALSE(file.empty());
      const std::string dumped = dump(file);
      EXPECT_NE(dumped.find(name), std::string::npos) << dumped;
      EXPECT_EQ(dumped.find("PixelSequence"), std::string::npos) << dumped;
      const Pixels pixels = pixels_of(file);
      EXPECT_EQ(pixels.syntax, syntax);
      EXPECT_SAME_SAMPLES(pixels.values, original_[sop].values);
    }
    // Every lossless compressed syntax, encoded by the node from the decoded J2K.
    const std::pair<const char*, const char*> lossless[] = {
        {"1.2.840.10008.1.2.4.57", "=JPEGLossless:Non-hierarchical:Process14"},
        {"1.2.840.10008.1.2.4.70", "=JPEGLossless:Non-hierarchical-1stOrderPrediction"},
        {"1.2.840.10008.1.2.4.80", "=JPEGLSLossless"},
        {"1.2.840.10008.1.2.5", "=RLELossless"}};
    for (const auto& [syntax, name] : lossless) {
      SCOPED_TRACE(syntax);
      const auto file = retrieve(sent, syntax);
      ASSERT_FALSE(file.empty());
      const std::string dumped = dump(file);
      EXPECT_NE(dumped.find(name), std::string::npos) << dumped;
      EXPECT_NE(dumped.find("PixelSequence"), std::string::npos) << dumped;
      const Pixels pixels = pixels_of(file);
      EXPECT_EQ(pixels.syntax, syntax);
      EXPECT_SAME_SAMPLES(pixels.values, original_[sop].values);
    }
    // Lossy syntaxes, asked for by name: the loss is recorded (PS3.3 C.7.6.1.1.5).
    const std::pair<const char*, const char*> lossy[] = {{"1.2.840.10008.1.2.4.81", "ISO_14495_1"},
                                                         {"1.2.840.10008.1.2.4.91", "ISO_15444_1"}};
    for (const auto& [syntax, method] : lossy) {
      SCOPED_TRACE(syntax);
      if (original_[sop].layout.is_signed && syntax == std::string("1.2.840.10008.1.2.4.81")) {
        // DCMTK's near-lossless JPEG-LS encoder takes unsigned samples only: refused, and why.
        const auto refused = get(instance_path(sent), {"Accept: multipart/related; "
                                                       "type=\"application/dicom\"; "
                                                       "transfer-syntax=" +
                                                       std::string(syntax)});
        EXPECT_EQ(refused.status, 406) << refused.body;
        EXPECT_NE(refused.body.find("near-lossless"), std::string::npos) << refused.body;
        continue;
      }
      const auto file = retrieve(sent, syntax);
      ASSERT_FALSE(file.empty());
      EXPECT_EQ(testing::identity_of(file).transfer_syntax, syntax);
      EXPECT_EQ(testing::value_of(file, DCM_LossyImageCompression), "01");
      // The method of this step comes last (a lossy J2K object converted has two).
      const std::string methods = testing::values_of(file, DCM_LossyImageCompressionMethod);
      EXPECT_EQ(methods.substr(methods.rfind('\\') + 1), method) << methods;
      const std::string ratios = testing::values_of(file, DCM_LossyImageCompressionRatio);
      EXPECT_EQ(std::count(ratios.begin(), ratios.end(), '\\'),
                std::count(methods.begin(), methods.end(), '\\'))
          << "one ratio per method: " << ratios << " / " << methods;
      EXPECT_EQ(pixels_of(file).values.size(), original_[sop].values.size());
    }
    // As stored: the bytes that were sent.
    const std::string stored_syntax = testing::identity_of(sent).transfer_syntax;
    const auto stored = retrieve(sent, stored_syntax);
    ASSERT_FALSE(stored.empty());
    EXPECT_NE(dump(stored).find("=JPEG2000"), std::string::npos);
    EXPECT_TRUE(testing::dataset_bytes(stored) == testing::dataset_bytes(sent));
  }
  // A syntax the node cannot produce (MPEG-2 video): 406 Not Acceptable.
  const auto& any = sent_.begin()->second;
  const auto mpeg = get(instance_path(any), {"Accept: multipart/related; "
                                             "type=\"application/dicom\"; "
                                             "transfer-syntax=1.2.840.10008.1.2.4.100"});
  EXPECT_EQ(mpeg.status, 406) << mpeg.body;
}

// Frames: uncompressed (decoded frame by frame), and as the stored codestream, which OpenJPEG's
// own tool decodes.
TEST_P(CodecNodeTest, WadoRsFramesDecodedOrAsTheirCodestream) {
  for (const auto& [sop, sent] : sent_) {
    SCOPED_TRACE(sop);
    const Pixels& original = original_[sop];
    for (std::uint32_t f = 0; f < original.frames; ++f) {
      SCOPED_TRACE("frame " + std::to_string(f + 1));
      const std::string path = instance_path(sent) + "/frames/" + std::to_string(f + 1);
      const auto raw = get(path, {"Accept: multipart/related; type=\"application/octet-stream\""});
      ASSERT_EQ(raw.status, 200) << raw.body;
      std::string why;
      auto parts = testing::parse_multipart_strict(
          raw.body, testing::boundary_of(raw.header("content-type")), why);
      ASSERT_TRUE(parts && parts->size() == 1) << why;
      const std::string& bytes = parts->front().body;
      ASSERT_GE(bytes.size(), original.layout.bytes());
      EXPECT_SAME_SAMPLES(values_of(reinterpret_cast<const unsigned char*>(bytes.data()),
                                    original.per_frame(), original.layout),
                          original.frame(f));

      const auto coded = get(path, {"Accept: multipart/related; type=\"image/jp2\""});
      ASSERT_EQ(coded.status, 200) << coded.body;
      parts = testing::parse_multipart_strict(
          coded.body, testing::boundary_of(coded.header("content-type")), why);
      ASSERT_TRUE(parts && parts->size() == 1) << why;
      const auto codestream = corpus_.path() / ("frame" + std::to_string(counter_++) + ".j2k");
      const auto image = fs::path(codestream).replace_extension(opj_extension(original.layout));
      testing::write_all(codestream, parts->front().body);
      run_tool({"opj_decompress", "-i", codestream.string(), "-o", image.string()});
      // Lossless: the original pixels; lossy: what our codec decodes here.
      EXPECT_SAME_SAMPLES(read_opj_image(image, original.layout), original.frame(f));

      // Media types of syntaxes encoded on the fly, each in its default (lossless) syntax.
      const std::pair<const char*, const char*> encoded[] = {
          {"image/jls", "1.2.840.10008.1.2.4.80"},
          {"image/jpeg", "1.2.840.10008.1.2.4.70"},
          {"image/dicom-rle", "1.2.840.10008.1.2.5"}};
      for (const auto& [media, syntax] : encoded) {
        SCOPED_TRACE(media);
        const auto answer =
            get(path, {std::string("Accept: multipart/related; type=\"") + media + "\""});
        ASSERT_EQ(answer.status, 200) << answer.body;
        parts = testing::parse_multipart_strict(
            answer.body, testing::boundary_of(answer.header("content-type")), why);
        ASSERT_TRUE(parts && parts->size() == 1) << why;
        EXPECT_EQ(parts->front().headers["content-type"],
                  std::string(media) + "; transfer-syntax=" + syntax);
        EXPECT_SAME_SAMPLES(decode_frame(parts->front().body, syntax, sent).values,
                            original.frame(f));
      }
    }
    // HTJ2K is not produced: 406.
    const auto htj2k =
        get(instance_path(sent) + "/frames/1", {"Accept: multipart/related; type=\"image/jphc\""});
    EXPECT_EQ(htj2k.status, 406) << htj2k.body;
  }
}

TEST_P(CodecNodeTest, J2kInstancesRender) {
  for (const auto& [sop, sent] : sent_) {
    SCOPED_TRACE(sop);
    const std::string path = instance_path(sent);
    const auto jpeg = get(path + "/rendered");
    EXPECT_EQ(jpeg.status, 200) << jpeg.body;
    EXPECT_EQ(jpeg.header("content-type"), "image/jpeg");
    EXPECT_EQ(jpeg.body.substr(0, 2), "\xff\xd8");
    const auto png = get(path + "/rendered", {"Accept: image/png"});
    EXPECT_EQ(png.status, 200) << png.body;
    EXPECT_EQ(png.body.substr(1, 3), "PNG");
    if (original_[sop].frames > 1) {
      const auto last =
          get(path + "/frames/" + std::to_string(original_[sop].frames) + "/rendered");
      EXPECT_EQ(last.status, 200) << last.body;
      EXPECT_EQ(last.body.substr(0, 2), "\xff\xd8");
    }
  }
}

// HTJ2K objects (1.2.840.10008.1.2.4.201), made here from OpenJPH's ojph_compress codestreams
// (no DICOM toolkit on Debian writes them): stored as they came (STOW-RS; DCMTK's DIMSE cannot
// carry a syntax it does not know), handed back byte for byte and as their codestreams, and
// decoded by OpenJPEG for every other syntax, /rendered and a C-MOVE.
TEST_P(CodecNodeTest, Htj2kObjectsAreKeptAsTheyCameAndDecodedForEverythingElse) {
  const auto originals = testing::generate_corpus(
      corpus_.path() / "ht-explicit",
      {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "2", "--rows", "48",
       "--columns", "40", "--rgb", "--bits", "8", "--frames", "2", "--seed", "71"});
  std::vector<fs::path> htj2k_files;
  std::map<std::string, std::vector<std::string>> codestreams;  // SOP Instance UID -> per frame
  std::map<std::string, Pixels> expected;
  for (const auto& file : originals) {
    const Pixels p = pixels_of(file);
    const std::string sop = testing::identity_of(file).sop_instance_uid;
    expected[sop] = p;
    auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
    sequence->insert(new DcmPixelItem(DCM_PixelItemTag));  // empty Basic Offset Table
    for (std::uint32_t f = 0; f < p.frames; ++f) {
      const auto image = corpus_.path() / (sop + "." + std::to_string(f) + ".ppm");
      const auto j2c = fs::path(image).replace_extension(".j2c");
      write_pnm(image, p.frame(f), p.layout);
      run_tool({"ojph_compress", "-i", image.string(), "-o", j2c.string(), "-reversible", "true"});
      codestreams[sop].push_back(testing::read_all(j2c));
      const std::string& bytes = codestreams[sop].back();
      ASSERT_NE(bytes.find("\xff\x50"), std::string::npos) << "no HT capabilities marker";
      auto* fragment = new DcmPixelItem(DCM_PixelItemTag);
      fragment->putUint8Array(reinterpret_cast<const Uint8*>(bytes.data()),
                              static_cast<unsigned long>(bytes.size()));
      sequence->insert(fragment);
    }
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(file.c_str()).good());
    DcmDataset& ds = *ff.getDataset();
    ds.putAndInsertUint16(DCM_PlanarConfiguration, 0);
    auto* pixel_data = new DcmPixelData(DCM_PixelData);
    pixel_data->putOriginalRepresentation(EXS_JPEG2000LosslessOnly, nullptr, sequence);
    ds.insert(pixel_data, OFTrue);
    // Encoded as JPEG 2000 (the same encapsulation), labelled HTJ2K: the meta header is written
    // as set, not made to match the encoding.
    ASSERT_TRUE(ff.saveFile((corpus_.path() / "tmp.dcm").c_str(), EXS_JPEG2000LosslessOnly).good());
    DcmFileFormat relabelled;
    ASSERT_TRUE(relabelled.loadFile((corpus_.path() / "tmp.dcm").c_str()).good());
    relabelled.getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, "1.2.840.10008.1.2.4.201");
    const auto out = corpus_.path() / ("ht-" + sop + ".dcm");
    ASSERT_TRUE(relabelled
                    .saveFile(out.c_str(), EXS_JPEG2000LosslessOnly, EET_UndefinedLength,
                              EGL_recalcGL, EPD_noChange, 0, 0, EWM_dontUpdateMeta)
                    .good());
    ASSERT_NE(dump(out).find("1.2.840.10008.1.2.4.201"), std::string::npos) << dump(out);
    htj2k_files.push_back(out);
  }
  const auto stowed = testing::stow(node_->http_port(), htj2k_files, corpus_.path() / "ht.body");
  ASSERT_EQ(stowed.status, 200) << stowed.body << node_->log();

  for (const auto& sent : htj2k_files) {
    const std::string sop = testing::identity_of(sent).sop_instance_uid;
    SCOPED_TRACE(sop);
    const Pixels& original = expected[sop];
    const auto as_stored = retrieve(sent, "1.2.840.10008.1.2.4.201");
    EXPECT_TRUE(testing::read_all(as_stored) == testing::read_all(sent)) << "not the stored bytes";
    for (const char* syntax : {kExplicitLittle, kJ2kLossless, UID_JPEGLSLosslessTransferSyntax}) {
      SCOPED_TRACE(syntax);
      const auto converted = retrieve(sent, syntax);
      ASSERT_FALSE(converted.empty());
      EXPECT_EQ(testing::identity_of(converted).transfer_syntax, syntax);
      EXPECT_SAME_SAMPLES(pixels_of(converted).values, original.values);
      if (std::string(syntax) == kJ2kLossless) {  // encoded anew: no HT capabilities marker
        for (const std::string& fragment : fragments_of(converted)) {
          EXPECT_EQ(fragment.substr(0, fragment.find("\xff\x90")).find("\xff\x50"),
                    std::string::npos);
        }
      }
    }
    // No HTJ2K encoder: another HTJ2K syntax cannot be made.
    const auto other = get(instance_path(sent), {"Accept: multipart/related; "
                                                 "type=\"application/dicom\"; "
                                                 "transfer-syntax=1.2.840.10008.1.2.4.203"});
    EXPECT_EQ(other.status, 406) << other.body;
    for (std::uint32_t f = 0; f < original.frames; ++f) {
      SCOPED_TRACE("frame " + std::to_string(f + 1));
      const std::string path = instance_path(sent) + "/frames/" + std::to_string(f + 1);
      const auto coded = get(path, {"Accept: multipart/related; type=\"image/jphc\""});
      ASSERT_EQ(coded.status, 200) << coded.body;
      std::string why;
      auto parts = testing::parse_multipart_strict(
          coded.body, testing::boundary_of(coded.header("content-type")), why);
      ASSERT_TRUE(parts && parts->size() == 1) << why;
      EXPECT_EQ(parts->front().headers["content-type"],
                "image/jphc; transfer-syntax=1.2.840.10008.1.2.4.201");
      // The fragment as stored: the codestream, padded to even length.
      const std::string& codestream = codestreams[sop][f];
      EXPECT_EQ(parts->front().body.substr(0, codestream.size()), codestream);
      EXPECT_LE(parts->front().body.size(), codestream.size() + 1);
      const auto raw = get(path, {"Accept: multipart/related; type=\"application/octet-stream\""});
      ASSERT_EQ(raw.status, 200) << raw.body;
      parts = testing::parse_multipart_strict(
          raw.body, testing::boundary_of(raw.header("content-type")), why);
      ASSERT_TRUE(parts && parts->size() == 1) << why;
      EXPECT_SAME_SAMPLES(
          values_of(reinterpret_cast<const unsigned char*>(parts->front().body.data()),
                    original.per_frame(), original.layout),
          original.frame(f));
    }
    const auto png = get(instance_path(sent) + "/rendered", {"Accept: image/png"});
    EXPECT_EQ(png.status, 200) << png.body;
    EXPECT_EQ(png.body.substr(1, 3), "PNG");
  }

  // DEST takes uncompressed syntaxes only: the node decodes the HTJ2K it stored.
  const std::string study = testing::value_of(htj2k_files.at(0), DCM_StudyInstanceUID);
  const auto moved = testing::run_dcmtk_tool(
      {"movescu", "-v", "-S", "-aec", "PACSNODE", "-aem", "DEST"},
      {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study}, node_->dimse_port());
  EXPECT_NE(moved.output.find("Received Final Move Response (Success)"), std::string::npos)
      << moved.output << node_->log();
  std::size_t arrived = 0;
  for (const auto& file : receiver_.files()) {
    const auto id = testing::identity_of(file);
    if (!expected.count(id.sop_instance_uid)) continue;
    ++arrived;
    EXPECT_TRUE(DcmXfer(id.transfer_syntax.c_str()).isNotEncapsulated()) << id.transfer_syntax;
    EXPECT_SAME_SAMPLES(pixels_of(file).values, expected[id.sop_instance_uid].values);
  }
  EXPECT_EQ(arrived, htj2k_files.size());
}

INSTANTIATE_TEST_SUITE_P(Backends, CodecNodeTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
