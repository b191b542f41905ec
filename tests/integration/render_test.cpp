// Rendered images against DCMTK's dcmj2pnm. Synthetic objects of every photometric interpretation
// the node renders (MONOCHROME1, MONOCHROME2 with a modality rescale, signed data, a VOI LUT
// Sequence, RGB, YBR_FULL, YBR_FULL_422, PALETTE COLOR, multi-frame) are stored in a node, also in
// each lossless compressed syntax (JPEG lossless, JPEG-LS, RLE, JPEG 2000). Each rendering the node
// serves (WADO-RS /rendered and /frames/N/rendered, WADO-URI) is decoded and compared with what
// dcmj2pnm makes of the uncompressed object with the options that mean the same frame and window.
//
// Tolerance: at most 1 per 8-bit sample. Both sides are DCMTK's image toolkit today, but the node
// is free to render by other means (and another DCMTK may round a window edge differently); one
// grey level is below what a viewer shows, while a wrong window, polarity, colour conversion,
// palette or frame moves most samples by far more. JPEG answers are compared with dcmj2pnm's JPEG
// at the same quality and sampling, decoded by the same libjpeg, with the same tolerance.
// YBR_FULL_422 is rendered uncompressed only: no lossless syntax codes subsampled colour.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrobow.h>
#include <dcmtk/dcmdata/dcvrus.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "codecs/registry.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

// The largest difference allowed between two 8-bit samples (see the top of the file).
constexpr int kTolerance = 1;

constexpr char kUidRoot[] = "1.2.826.0.1.3680043.10.1457.77.";
constexpr unsigned kRows = 40, kColumns = 48;  // even columns: YBR_FULL_422 pairs pixels

// ---- decoded images

struct Image {
  unsigned width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> samples;
};

std::string describe(const Image& image) {
  return std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
         std::to_string(image.channels);
}

// A PNG as it is stored (grey or RGB, 8 bits): the simplified libpng API, asked for the file's own
// format, converts nothing.
std::optional<Image> decode_png(const std::string& bytes) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) return std::nullopt;
  Image image{png.width, png.height, PNG_IMAGE_SAMPLE_CHANNELS(png.format), {}};
  if (PNG_IMAGE_SAMPLE_COMPONENT_SIZE(png.format) != 1) {
    png_image_free(&png);
    return std::nullopt;
  }
  image.samples.resize(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, image.samples.data(), 0, nullptr)) return std::nullopt;
  return image;
}

// libjpeg reports errors by calling error_exit, which must not return: it jumps back here (C code
// cannot be unwound by an exception).
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf back;
  char message[JMSG_LENGTH_MAX];
};

std::optional<Image> decode_jpeg(const std::string& bytes) {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = [](j_common_ptr common) {
    auto* e = reinterpret_cast<JpegErrors*>(common->err);
    (*common->err->format_message)(common, e->message);
    std::longjmp(e->back, 1);
  };
  Image image;
  if (setjmp(errors.back)) {
    jpeg_destroy_decompress(&info);
    ADD_FAILURE() << "JPEG does not decode: " << errors.message;
    return std::nullopt;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_read_header(&info, TRUE);
  jpeg_start_decompress(&info);
  image.width = info.output_width;
  image.height = info.output_height;
  image.channels = static_cast<unsigned>(info.output_components);
  image.samples.resize(static_cast<std::size_t>(image.width) * image.height * image.channels);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image.samples.data() +
                   static_cast<std::size_t>(info.output_scanline) * image.width * image.channels;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return image;
}

// The largest per-sample difference, or -1 when the shapes differ.
int max_difference(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height || a.channels != b.channels ||
      a.samples.size() != b.samples.size())
    return -1;
  int most = 0;
  for (std::size_t i = 0; i < a.samples.size(); ++i)
    most = std::max(most, std::abs(int{a.samples[i]} - int{b.samples[i]}));
  return most;
}

// ---- synthetic objects

// What a rendering is asked with: the query of /rendered (or /frames/N/rendered), of WADO-URI,
// and the dcmj2pnm options that mean the same.
struct Request {
  std::string name;
  std::string rendered_query;  // "" or "?window=..."
  std::string uri_query;       // "" or "&windowCenter=..."
  std::vector<std::string> dcmj2pnm;
};

struct Object {
  std::string name;
  std::unique_ptr<DcmFileFormat> file;
  unsigned frames = 1;
  // dcmj2pnm's options for a request without a window: the object's first window, else its first
  // VOI LUT, else the pixel range (what rendered.cpp does); none for colour.
  std::vector<std::string> stored_voi;
  // Requested windows (centre, width in modality units, after the rescale); none for colour.
  std::vector<std::pair<double, double>> windows;
  // Also stored in each lossless compressed syntax. Not YBR_FULL_422: the lossless syntaxes do not
  // code subsampled colour (PS3.5 8.2), and DCMTK's encoders and ours refuse it.
  bool compressible = true;
};

void put(DcmDataset& ds, const DcmTagKey& tag, const std::string& value) {
  ASSERT_TRUE(ds.putAndInsertString(tag, value.c_str()).good()) << DcmTag(tag).getTagName();
}

// An element of a chosen VR (the dictionary gives US or SS for the LUT descriptors, OW or US for
// LUT data; the standard picks by Pixel Representation and we want one fixed spelling).
template <class Element>
void put_words(DcmItem& item, const DcmTagKey& tag, DcmEVR vr, const std::vector<Uint16>& words) {
  auto element = std::make_unique<Element>(DcmTag(tag, vr));
  ASSERT_TRUE(
      element->putUint16Array(words.data(), static_cast<unsigned long>(words.size())).good());
  ASSERT_TRUE(item.insert(element.release(), true).good());
}

struct PixelShape {
  const char* photometric;
  Uint16 samples = 1, bits_allocated = 16, bits_stored = 12, is_signed = 0, planar = 0;
  unsigned frames = 1;
};

// The identity and image pixel module; the pixel data is written by the caller.
std::unique_ptr<DcmFileFormat> new_object(int index, const PixelShape& shape) {
  auto ff = std::make_unique<DcmFileFormat>();
  DcmDataset& ds = *ff->getDataset();
  const std::string n = std::to_string(index);
  put(ds, DCM_SOPClassUID,
      shape.frames > 1 ? UID_MultiframeGrayscaleWordSecondaryCaptureImageStorage
                       : UID_SecondaryCaptureImageStorage);
  put(ds, DCM_SOPInstanceUID, kUidRoot + std::string("3.") + n + ".0");
  put(ds, DCM_StudyInstanceUID, kUidRoot + std::string("1"));
  put(ds, DCM_SeriesInstanceUID, kUidRoot + std::string("2.") + n);
  put(ds, DCM_PatientID, "RENDER1");
  put(ds, DCM_PatientName, "Render^Test");
  put(ds, DCM_Modality, "OT");
  put(ds, DCM_SeriesNumber, n);
  put(ds, DCM_InstanceNumber, "1");
  put(ds, DCM_PhotometricInterpretation, shape.photometric);
  if (shape.frames > 1) put(ds, DCM_NumberOfFrames, std::to_string(shape.frames));
  ds.putAndInsertUint16(DCM_SamplesPerPixel, shape.samples);
  ds.putAndInsertUint16(DCM_Rows, kRows);
  ds.putAndInsertUint16(DCM_Columns, kColumns);
  ds.putAndInsertUint16(DCM_BitsAllocated, shape.bits_allocated);
  ds.putAndInsertUint16(DCM_BitsStored, shape.bits_stored);
  ds.putAndInsertUint16(DCM_HighBit, shape.bits_stored - 1);
  ds.putAndInsertUint16(DCM_PixelRepresentation, shape.is_signed);
  if (shape.samples == 3) ds.putAndInsertUint16(DCM_PlanarConfiguration, shape.planar);
  return ff;
}

// A grey value in [low, high] for a pixel of a frame: a gradient with a ring pattern, moved by the
// frame number, so that a wrong frame or a wrong window shows almost everywhere.
long grey(unsigned x, unsigned y, unsigned frame, long low, long high) {
  const long ring = static_cast<long>((x * x + 3 * y * y + frame * 211) % 1024);
  const long gradient = static_cast<long>((x + y + 17 * frame) % (kColumns + kRows));
  return low + (high - low) * (ring + 8 * gradient) / (1023 + 8 * (kColumns + kRows - 1));
}

void put_grey_pixels(DcmDataset& ds, const PixelShape& shape, long low, long high) {
  std::vector<Uint16> words;
  std::vector<Uint8> bytes;
  for (unsigned f = 0; f < shape.frames; ++f)
    for (unsigned y = 0; y < kRows; ++y)
      for (unsigned x = 0; x < kColumns; ++x) {
        const long v = grey(x, y, f, low, high);
        if (shape.bits_allocated == 8)
          bytes.push_back(static_cast<Uint8>(v));
        else
          words.push_back(static_cast<Uint16>(static_cast<std::int16_t>(v)));  // two's complement
      }
  const OFCondition stored =
      shape.bits_allocated == 8
          ? ds.putAndInsertUint8Array(DCM_PixelData, bytes.data(), bytes.size())
          : ds.putAndInsertUint16Array(DCM_PixelData, words.data(), words.size());
  ASSERT_TRUE(stored.good()) << stored.text();
}

// Three 8-bit components per pixel (R G B or Y Cb Cr), interleaved or by plane as the shape says.
void put_colour_pixels(DcmDataset& ds, const PixelShape& shape) {
  const std::size_t n = static_cast<std::size_t>(kRows) * kColumns;
  std::vector<Uint8> bytes(n * 3);
  for (unsigned y = 0; y < kRows; ++y)
    for (unsigned x = 0; x < kColumns; ++x) {
      const std::size_t p = static_cast<std::size_t>(y) * kColumns + x;
      const Uint8 c[3] = {static_cast<Uint8>(x * 255 / (kColumns - 1)),
                          static_cast<Uint8>(grey(x, y, 0, 0, 255)),
                          static_cast<Uint8>(255 - y * 255 / (kRows - 1))};
      for (std::size_t k = 0; k < 3; ++k) bytes[shape.planar ? k * n + p : 3 * p + k] = c[k];
    }
  ASSERT_TRUE(ds.putAndInsertUint8Array(DCM_PixelData, bytes.data(), bytes.size()).good());
}

// YBR_FULL_422 as stored: each pair of pixels is Y1 Y2 Cb Cr (PS3.3 C.7.6.3.1.2).
void put_ybr422_pixels(DcmDataset& ds) {
  std::vector<Uint8> bytes;
  for (unsigned y = 0; y < kRows; ++y)
    for (unsigned x = 0; x < kColumns; x += 2) {
      bytes.push_back(static_cast<Uint8>(grey(x, y, 0, 0, 255)));
      bytes.push_back(static_cast<Uint8>(grey(x + 1, y, 0, 0, 255)));
      bytes.push_back(static_cast<Uint8>(64 + x * 128 / kColumns));
      bytes.push_back(static_cast<Uint8>(192 - y * 128 / kRows));
    }
  ASSERT_TRUE(ds.putAndInsertUint8Array(DCM_PixelData, bytes.data(), bytes.size()).good());
}

std::vector<Object> make_objects() {
  std::vector<Object> out;
  const auto add = [&](const std::string& name, const PixelShape& shape,
                       const std::function<void(DcmDataset&)>& fill,
                       std::vector<std::string> stored_voi = {},
                       std::vector<std::pair<double, double>> windows = {}) {
    Object o{name, new_object(static_cast<int>(out.size()), shape), shape.frames,
             std::move(stored_voi), std::move(windows)};
    fill(*o.file->getDataset());
    out.push_back(std::move(o));
  };
  // CT-like: 12 bits with a rescale to HU and two stored windows (the first is the default).
  add("monochrome2-rescaled", {"MONOCHROME2"},
      [](DcmDataset& ds) {
        put(ds, DCM_RescaleIntercept, "-1024");
        put(ds, DCM_RescaleSlope, "1");
        put(ds, DCM_WindowCenter, "40\\300");
        put(ds, DCM_WindowWidth, "400\\1500");
        put_grey_pixels(ds, {"MONOCHROME2"}, 0, 4095);
      },
      {"+Wi", "1"}, {{-200, 700}, {1000, 50}});
  // CR-like: white is low; the stored window is in stored values (no rescale).
  add("monochrome1", {"MONOCHROME1"},
      [](DcmDataset& ds) {
        put(ds, DCM_WindowCenter, "1500");
        put(ds, DCM_WindowWidth, "2000");
        put_grey_pixels(ds, {"MONOCHROME1"}, 0, 4095);
      },
      {"+Wi", "1"}, {{2500, 1000}});
  // Signed 16 bits with a slope other than 1 and no stored window: the pixel range.
  add("signed16-slope", {"MONOCHROME2", 1, 16, 16, 1},
      [](DcmDataset& ds) {
        put(ds, DCM_RescaleIntercept, "-100");
        put(ds, DCM_RescaleSlope, "2");
        put_grey_pixels(ds, {"MONOCHROME2", 1, 16, 16, 1}, -20000, 20000);
      },
      {"+Wm"}, {{0, 30000}, {-20000, 10000}});
  // A VOI LUT Sequence (a square-root curve) and no window.
  add("voi-lut", {"MONOCHROME2"},
      [](DcmDataset& ds) {
        DcmItem* item = nullptr;
        ASSERT_TRUE(ds.findOrCreateSequenceItem(DCM_VOILUTSequence, item, 0).good());
        put_words<DcmUnsignedShort>(*item, DCM_LUTDescriptor, EVR_US, {4096, 0, 16});
        std::vector<Uint16> lut(4096);
        for (std::size_t i = 0; i < lut.size(); ++i)
          lut[i] = static_cast<Uint16>(std::lround(65535.0 * std::sqrt(i / 4095.0)));
        put_words<DcmOtherByteOtherWord>(*item, DCM_LUTData, EVR_OW, lut);
        ASSERT_TRUE(item->putAndInsertString(DCM_LUTExplanation, "SQRT").good());
        put_grey_pixels(ds, {"MONOCHROME2"}, 0, 4095);
      },
      {"+Wl", "1"}, {{2000, 2500}});
  const PixelShape rgb{"RGB", 3, 8, 8, 0, 1};  // by plane
  add("rgb", rgb, [&](DcmDataset& ds) { put_colour_pixels(ds, rgb); });
  const PixelShape ybr{"YBR_FULL", 3, 8, 8, 0, 0};  // interleaved
  add("ybr-full", ybr, [&](DcmDataset& ds) { put_colour_pixels(ds, ybr); });
  add("ybr-full-422", {"YBR_FULL_422", 3, 8, 8}, put_ybr422_pixels);
  out.back().compressible = false;
  // 8-bit indices into 16-bit palettes.
  add("palette-color", {"PALETTE COLOR", 1, 8, 8}, [](DcmDataset& ds) {
    std::vector<Uint16> red(256), green(256), blue(256);
    for (unsigned i = 0; i < 256; ++i) {
      red[i] = static_cast<Uint16>(i * 257);
      green[i] = static_cast<Uint16>((255 - i) * 257);
      blue[i] = static_cast<Uint16>((i * 5 % 256) * 257);
    }
    const std::pair<DcmTagKey, DcmTagKey> tags[] = {
        {DCM_RedPaletteColorLookupTableDescriptor, DCM_RedPaletteColorLookupTableData},
        {DCM_GreenPaletteColorLookupTableDescriptor, DCM_GreenPaletteColorLookupTableData},
        {DCM_BluePaletteColorLookupTableDescriptor, DCM_BluePaletteColorLookupTableData}};
    const std::vector<Uint16>* data[] = {&red, &green, &blue};
    for (int c = 0; c < 3; ++c) {
      // 256 entries, the first for index 0, 16 bits each.
      put_words<DcmUnsignedShort>(ds, tags[c].first, EVR_US, {256, 0, 16});
      put_words<DcmOtherByteOtherWord>(ds, tags[c].second, EVR_OW, *data[c]);
    }
    put_grey_pixels(ds, {"PALETTE COLOR", 1, 8, 8}, 0, 255);
  });
  // Four frames of 16-bit grey with a stored window; each frame a different pattern.
  const PixelShape frames{"MONOCHROME2", 1, 16, 12, 0, 0, 4};
  add("multiframe", frames,
      [&](DcmDataset& ds) {
        put(ds, DCM_WindowCenter, "2048");
        put(ds, DCM_WindowWidth, "3000");
        put_grey_pixels(ds, frames, 0, 4095);
      },
      {"+Wi", "1"}, {{1000, 1000}});
  return out;
}

// The compressed syntaxes every object is also stored in; all lossless, so each must render as
// the uncompressed object does.
struct Compression {
  const char* name;
  E_TransferSyntax syntax;
};

const Compression kCompressions[] = {
    {"jpeg-lossless", EXS_JPEGProcess14SV1},
    {"jpeg-ls", EXS_JPEGLSLossless},
    {"rle", EXS_RLELossless},
    {"j2k", EXS_JPEG2000LosslessOnly},
};

std::string uid_of(DcmFileFormat& ff, const DcmTagKey& tag) {
  OFString value;
  ff.getDataset()->findAndGetOFString(tag, value);
  return value.c_str();
}

// ---- the test

class RenderTest : public ::testing::Test {
 protected:
  struct Stored {
    const Object* object;
    std::string syntax;  // "explicit" or a compression's name
    fs::path file;
    std::string sop;
  };

  static void SetUpTestSuite() { state_ = new State; }
  // The largest differences measured, for the record (the assertions hold them to the tolerance).
  static void TearDownTestSuite() {
    delete state_;
    state_ = nullptr;
    int overall = 0;
    for (const auto& [what, difference] : report_) overall = std::max(overall, difference);
    std::cout << "[render] " << report_.size() << " kinds of rendering compared, largest "
              << "difference " << overall << " (tolerance " << kTolerance << ")\n";
    for (const auto& [what, difference] : report_)
      if (difference > 0) std::cout << "[render]   " << what << ": " << difference << "\n";
  }

  struct State {
    State() {
      objects = make_objects();
      std::vector<fs::path> files;
      for (const Object& object : objects) {
        const auto file = dir.path() / (object.name + ".dcm");
        EXPECT_TRUE(object.file->saveFile(file.c_str(), EXS_LittleEndianExplicit).good());
        stored.push_back({&object, "explicit", file, uid_of(*object.file, DCM_SOPInstanceUID)});
        files.push_back(file);
        for (std::size_t c = 0; object.compressible && c < std::size(kCompressions); ++c) {
          const Compression& compression = kCompressions[c];
          DcmFileFormat copy(*object.file);
          DcmDataset& ds = *copy.getDataset();
          // Its own instance: the node keeps the first object stored under a SOP Instance UID.
          std::string sop = uid_of(copy, DCM_SOPInstanceUID);
          sop.back() = static_cast<char>('1' + c);
          ds.putAndInsertString(DCM_SOPInstanceUID, sop.c_str());
          const OFCondition encoded = ds.chooseRepresentation(compression.syntax, nullptr);
          if (encoded.bad() || !ds.canWriteXfer(compression.syntax)) {
            ADD_FAILURE() << object.name << " does not encode as " << compression.name << ": "
                          << encoded.text();
            continue;
          }
          const auto out = dir.path() / (object.name + "." + compression.name + ".dcm");
          EXPECT_TRUE(copy.saveFile(out.c_str(), compression.syntax).good());
          stored.push_back({&object, compression.name, out, sop});
          files.push_back(out);
        }
      }
      node.start();
      const auto r = testing::stow(node.http_port(), files, dir.path() / "stow.body");
      EXPECT_EQ(r.status, 200) << r.body << r.error;
      // Each copy is kept in the syntax it came in, so each is rendered from that syntax.
      std::map<std::string, std::string> kept;  // SOP Instance UID -> stored transfer syntax
      for (const fs::path& f : testing::files_below(node.data_dir()))
        if (f.extension() == ".dcm") {
          const auto id = testing::identity_of(f);
          kept[id.sop_instance_uid] = id.transfer_syntax;
        }
      for (const Stored& s : stored)
        EXPECT_EQ(kept[s.sop], testing::identity_of(s.file).transfer_syntax)
            << s.object->name << " (" << s.syntax << ")";
    }

    const codecs::CodecRegistry codecs;  // the encoders, for the compressed copies
    testing::TempDir dir;
    std::vector<Object> objects;
    std::vector<Stored> stored;
    TestNode node{TestNode::Options{}};  // SQLite: rendering does not depend on the index
    int counter = 0;
  };

  static testing::HttpResponse get(const std::string& path,
                                   const std::vector<std::string>& headers = {}) {
    return testing::http_request(state_->node.http_port(), "GET", path, headers);
  }

  static std::string instance_path(const Stored& s) {
    DcmFileFormat& ff = *s.object->file;
    return "/dicom-web/studies/" + uid_of(ff, DCM_StudyInstanceUID) + "/series/" +
           uid_of(ff, DCM_SeriesInstanceUID) + "/instances/" + s.sop;
  }

  static std::string uri_path(const Stored& s, const std::string& content_type) {
    DcmFileFormat& ff = *s.object->file;
    return "/wado?requestType=WADO&studyUID=" + uid_of(ff, DCM_StudyInstanceUID) +
           "&seriesUID=" + uid_of(ff, DCM_SeriesInstanceUID) + "&objectUID=" + s.sop +
           "&contentType=" + content_type;
  }

  // dcmj2pnm's rendering of the uncompressed object: PNG, or JPEG as the node writes it (quality
  // 90, no chroma subsampling).
  static std::optional<Image> reference(const Object& object, std::vector<std::string> options,
                                        bool jpeg = false) {
    const auto in = state_->dir.path() / (object.name + ".dcm");
    const auto out =
        state_->dir.path() / ("ref" + std::to_string(state_->counter++) + (jpeg ? ".jpg" : ".png"));
    std::vector<std::string> argv = {"dcmj2pnm"};
    if (jpeg)
      argv.insert(argv.end(), {"+oj", "+Jq", "90", "+Js4"});
    else
      argv.push_back("+on");
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {in.string(), out.string()});
    const auto r = testing::run(argv, std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 0) << "dcmj2pnm failed (run scripts/setup.sh if it is missing): "
                              << r.output;
    if (r.exit_code != 0) return std::nullopt;
    const std::string bytes = testing::read_all(out);
    return jpeg ? decode_jpeg(bytes) : decode_png(bytes);
  }

  // GETs one rendering and checks it against the expected image; returns the difference found
  // (-1 when there is nothing to compare).
  static int check(const std::string& what, const std::string& path, const Image& expected,
                   bool jpeg = false, int tolerance = kTolerance) {
    SCOPED_TRACE(what + ": " + path);
    const auto r = get(path, {jpeg ? "Accept: image/jpeg" : "Accept: image/png"});
    EXPECT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.header("content-type"), jpeg ? "image/jpeg" : "image/png");
    if (r.status != 200) return -1;
    const auto image = jpeg ? decode_jpeg(r.body) : decode_png(r.body);
    EXPECT_TRUE(image) << "the answer does not decode";
    if (!image) return -1;
    const int difference = max_difference(*image, expected);
    EXPECT_GE(difference, 0) << "rendered " << describe(*image) << ", dcmj2pnm "
                             << describe(expected);
    EXPECT_LE(difference, tolerance)
        << "largest sample difference from dcmj2pnm " << difference << ", allowed " << tolerance;
    report_[what] = std::max(report_[what], difference);
    return difference;
  }

  // The requests each object is rendered with: none (the object's own VOI, or none for colour),
  // and each requested window, both as a linear and as a sigmoid function.
  static std::vector<Request> requests_for(const Object& object) {
    std::vector<Request> out = {{"no window", "", "", object.stored_voi}};
    for (const auto& [center, width] : object.windows) {
      std::ostringstream c, w;
      c << center;
      w << width;
      const std::string window = c.str() + "," + w.str();
      out.push_back({"window " + window + " linear",
                     "?window=" + window + ",linear",
                     "&windowCenter=" + c.str() + "&windowWidth=" + w.str(),
                     {"+Ww", c.str(), w.str(), "+Wfl"}});
      // WADO-URI has no function parameter: the others are asked for through WADO-RS only.
      out.push_back({"window " + window + " sigmoid",
                     "?window=" + window + ",sigmoid",
                     "",
                     {"+Ww", c.str(), w.str(), "+Wfs"}});
      // dcmj2pnm has no LINEAR_EXACT; it is LINEAR with centre c + 0.5 and width w + 1
      // (PS3.3 C.11.2.1.2.1 and C.11.2.1.3.2).
      std::ostringstream c1, w1;
      c1 << center + 0.5;
      w1 << width + 1;
      out.push_back({"window " + window + " linear-exact",
                     "?window=" + window + ",linear-exact",
                     "",
                     {"+Ww", c1.str(), w1.str(), "+Wfl"}});
    }
    return out;
  }

  static const Stored& uncompressed(const Object& object) {
    for (const Stored& s : state_->stored)
      if (s.object == &object && s.syntax == "explicit") return s;
    throw std::logic_error("no uncompressed copy of " + object.name);
  }

  static State* state_;
  static std::map<std::string, int> report_;  // the largest difference seen per kind of check
};

RenderTest::State* RenderTest::state_ = nullptr;
std::map<std::string, int> RenderTest::report_;

// Every object, every request, through WADO-RS and WADO-URI, against dcmj2pnm; the compressed
// copies against the same reference.
TEST_F(RenderTest, EveryPhotometricInterpretationAndWindowRendersAsDcmj2pnmDoes) {
  for (const Object& object : state_->objects) {
    SCOPED_TRACE(object.name);
    std::vector<std::optional<Image>> seen;
    for (const Request& request : requests_for(object)) {
      SCOPED_TRACE(request.name);
      const auto expected = reference(object, request.dcmj2pnm);
      ASSERT_TRUE(expected) << "dcmj2pnm's PNG does not decode";
      seen.push_back(expected);
      for (const Stored& s : state_->stored) {
        if (s.object != &object) continue;
        const std::string syntax = " (" + s.syntax + ")";
        const int tolerance = kTolerance;
        check(object.name + " " + request.name + syntax,
              instance_path(s) + "/rendered" + request.rendered_query, *expected, false, tolerance);
        if (request.name == "no window" || !request.uri_query.empty())
          check(object.name + " " + request.name + " WADO-URI" + syntax,
                uri_path(s, "image/png") + request.uri_query, *expected, false, tolerance);
      }
    }
    // The windows asked for must change the image, or the comparisons above prove little.
    for (std::size_t i = 1; i < seen.size(); ++i)
      EXPECT_GT(max_difference(*seen[0], *seen[i]), 10 * kTolerance)
          << "request " << i << " renders like the stored VOI";
  }
}

// Frame N (not only 1) of a multi-frame object, by /frames/N/rendered and WADO-URI frameNumber,
// from every stored syntax.
TEST_F(RenderTest, EachFrameOfAMultiFrameObjectRendersAsDcmj2pnmDoes) {
  const Object* object = nullptr;
  for (const Object& o : state_->objects)
    if (o.frames > 1) object = &o;
  ASSERT_NE(object, nullptr);
  std::vector<Image> frames;
  for (unsigned f = 1; f <= object->frames; ++f) {
    const std::string n = std::to_string(f);
    SCOPED_TRACE("frame " + n);
    for (const Request& request : requests_for(*object)) {
      SCOPED_TRACE(request.name);
      auto options = request.dcmj2pnm;
      options.insert(options.end(), {"+F", n});
      const auto expected = reference(*object, options);
      ASSERT_TRUE(expected);
      if (request.name == "no window") frames.push_back(*expected);
      for (const Stored& s : state_->stored) {
        if (s.object != object) continue;
        check("multiframe frame N " + request.name,
              instance_path(s) + "/frames/" + n + "/rendered" + request.rendered_query, *expected);
        if (request.name == "no window" || !request.uri_query.empty())
          check("multiframe frame N " + request.name + " WADO-URI",
                uri_path(s, "image/png") + "&frameNumber=" + n + request.uri_query, *expected);
      }
    }
  }
  for (std::size_t f = 1; f < frames.size(); ++f)
    EXPECT_GT(max_difference(frames[0], frames[f]), 10 * kTolerance)
        << "frame " << f + 1 << " looks like frame 1";
  // A frame beyond the last is not found.
  const auto beyond = get(instance_path(uncompressed(*object)) + "/frames/" +
                              std::to_string(object->frames + 1) + "/rendered",
                          {"Accept: image/png"});
  EXPECT_EQ(beyond.status, 404) << beyond.body;
}

// JPEG answers (the default media type of /rendered and of WADO-URI) against dcmj2pnm's JPEG of the
// same quality and sampling, for every object without a window and with one.
TEST_F(RenderTest, JpegAnswersMatchDcmj2pnmJpegs) {
  for (const Object& object : state_->objects) {
    SCOPED_TRACE(object.name);
    const Stored& s = uncompressed(object);
    auto requests = requests_for(object);
    requests.resize(std::min<std::size_t>(requests.size(), 2));  // stored VOI, one linear window
    for (const Request& request : requests) {
      SCOPED_TRACE(request.name);
      const auto expected = reference(object, request.dcmj2pnm, /*jpeg=*/true);
      ASSERT_TRUE(expected);
      check(object.name + " JPEG", instance_path(s) + "/rendered" + request.rendered_query,
            *expected, true);
      check(object.name + " JPEG WADO-URI", uri_path(s, "image/jpeg") + request.uri_query,
            *expected, true);
    }
  }
}

}  // namespace
}  // namespace pacs
