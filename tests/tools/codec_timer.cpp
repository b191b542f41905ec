// pacsnode-codec-timer: times the node's JPEG 2000 codec (codecs/j2k.h) in process, for the codec
// benchmark. Reads the uncompressed DICOM files below a directory (first frame of each), encodes
// every image losslessly --iterations times, then decodes the codestreams it made --iterations
// times with each thread count of --threads, and prints one line per measurement:
//
//   op=encode threads=1 images=K iterations=N raw_bytes=B coded_bytes=C seconds=S mb_per_s=R
//   op=decode threads=T images=K iterations=N raw_bytes=B coded_bytes=C seconds=S mb_per_s=R
//
// where B is the uncompressed size of the K images and R is N * B over S (MB of pixel data per
// second). Before timing, every codestream is decoded once and compared with its image: a codec
// that is fast but not lossless fails (exit 2). --raw-out and --j2k-out write the images (little
// endian, as opj_compress reads .rawl) and the node's codestreams, so that the OpenJPEG tools can
// be timed on exactly the same input.

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/j2k.h"
#include "tests/tools/args.h"
#include "tests/tools/parse_number.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using pacs::codecs::FrameLayout;

constexpr int kExitBadArgs = 1;
constexpr int kExitFailed = 2;
constexpr std::size_t kMaxFiles = 1000;

struct Options {
  std::string dir;
  int iterations = 10;
  std::vector<unsigned> threads{1};
  std::string raw_out, j2k_out;
};

void print_usage(std::FILE* to) {
  std::fputs(
      "usage: pacsnode-codec-timer --dir DIR [--iterations N=10] [--threads T[,T...]=1]\n"
      "         [--raw-out DIR] [--j2k-out DIR]\n"
      "Encodes the first frame of each uncompressed DICOM file below DIR (at most 1000) to\n"
      "JPEG 2000 lossless N times, then decodes the codestreams N times per thread count, and\n"
      "prints 'op=encode|decode threads=T images=K iterations=N raw_bytes=B coded_bytes=C\n"
      "seconds=S mb_per_s=R' (R: uncompressed MB per second). Every codestream is checked to\n"
      "decode to its image first. --raw-out writes NNNN.rawl (little endian), --j2k-out "
      "NNNN.j2k.\n",
      to);
}

std::string parse_threads(std::string_view text, std::vector<unsigned>& out) {
  out.clear();
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const auto n = pacs::tools::parse_number<unsigned>(text.substr(0, comma), 1, 64);
    if (!n) return "--threads must be a comma-separated list of numbers in [1, 64]";
    out.push_back(*n);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return out.empty() ? "--threads must not be empty" : "";
}

struct Image {
  std::string name;
  FrameLayout layout;
  std::vector<unsigned char> pixels;  // one frame, host order
  std::vector<unsigned char> coded;   // the node's codestream of it
};

// The first frame of an uncompressed file, or an error message.
std::string load(const fs::path& path, Image& image) {
  DcmFileFormat file;
  if (OFCondition c = file.loadFile(path.c_str()); c.bad()) return path.string() + ": " + c.text();
  DcmDataset& ds = *file.getDataset();
  if (DcmXfer(ds.getOriginalXfer()).isEncapsulated())
    return path.string() + ": compressed pixel data; the timer needs uncompressed files";
  Uint16 rows = 0, columns = 0, samples = 1, allocated = 0, stored = 0, representation = 0;
  Uint16 planar = 0;
  if (ds.findAndGetUint16(DCM_Rows, rows).bad() ||
      ds.findAndGetUint16(DCM_Columns, columns).bad() ||
      ds.findAndGetUint16(DCM_BitsAllocated, allocated).bad() ||
      ds.findAndGetUint16(DCM_BitsStored, stored).bad())
    return path.string() + ": no Rows, Columns, Bits Allocated or Bits Stored";
  ds.findAndGetUint16(DCM_SamplesPerPixel, samples);
  ds.findAndGetUint16(DCM_PixelRepresentation, representation);
  ds.findAndGetUint16(DCM_PlanarConfiguration, planar);
  // The codec takes interleaved samples; planar colour would need a conversion the node does
  // elsewhere, and timing it here would not be the codec's figure.
  if (samples == 3 && planar != 0) return path.string() + ": planar colour is not supported";
  image.name = path.filename().string();
  image.layout = FrameLayout{columns, rows, samples, allocated, stored, representation == 1};
  if (!pacs::codecs::supported_layout(image.layout))
    return path.string() + ": a pixel layout the codec does not take";
  const std::size_t bytes = image.layout.bytes();
  image.pixels.resize(bytes);
  unsigned long count = 0;
  if (allocated == 8) {
    const Uint8* data = nullptr;
    if (ds.findAndGetUint8Array(DCM_PixelData, data, &count).bad() || count < bytes)
      return path.string() + ": pixel data shorter than one frame";
    std::memcpy(image.pixels.data(), data, bytes);
  } else {
    const Uint16* data = nullptr;
    if (ds.findAndGetUint16Array(DCM_PixelData, data, &count).bad() || count * 2 < bytes)
      return path.string() + ": pixel data shorter than one frame";
    std::memcpy(image.pixels.data(), data, bytes);
  }
  return {};
}

bool write_file(const fs::path& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

// .rawl is little endian; the frames are in host order.
std::vector<unsigned char> little_endian(const Image& image) {
  std::vector<unsigned char> bytes = image.pixels;
  if (std::endian::native == std::endian::big && image.layout.bits_allocated == 16)
    for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) std::swap(bytes[i], bytes[i + 1]);
  return bytes;
}

void report(const char* op, unsigned threads, const std::vector<Image>& images, int iterations,
            double seconds) {
  std::size_t raw = 0, coded = 0;
  for (const Image& image : images) {
    raw += image.pixels.size();
    coded += image.coded.size();
  }
  std::printf(
      "op=%s threads=%u images=%zu iterations=%d raw_bytes=%zu coded_bytes=%zu seconds=%.4f "
      "mb_per_s=%.2f\n",
      op, threads, images.size(), iterations, raw, coded, seconds,
      static_cast<double>(raw) * iterations / 1e6 / seconds);
  std::fflush(stdout);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  std::string error = pacs::tools::parse_flags(
      argc, argv, print_usage, [&](std::string_view flag, std::string_view value) -> std::string {
        if (flag == "--dir") {
          opt.dir = value;
        } else if (flag == "--iterations") {
          const auto n = pacs::tools::parse_number<int>(value, 1, 100000);
          if (!n) return "--iterations must be a number in [1, 100000]";
          opt.iterations = *n;
        } else if (flag == "--threads") {
          return parse_threads(value, opt.threads);
        } else if (flag == "--raw-out") {
          opt.raw_out = value;
        } else if (flag == "--j2k-out") {
          opt.j2k_out = value;
        } else {
          return "unknown argument '" + std::string(flag) + "'";
        }
        return "";
      });
  if (error.empty() && opt.dir.empty()) error = "--dir DIR is required";
  if (!error.empty()) {
    std::fprintf(stderr, "pacsnode-codec-timer: %s\n", error.c_str());
    print_usage(stderr);
    return kExitBadArgs;
  }
  OFLog::configure(OFLogger::ERROR_LOG_LEVEL);

  std::vector<fs::path> paths;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(opt.dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".dcm") paths.push_back(it->path());
  if (ec || paths.empty() || paths.size() > kMaxFiles) {
    std::fprintf(stderr, "pacsnode-codec-timer: %s: %s\n", opt.dir.c_str(),
                 ec ? ec.message().c_str() : "needs 1 to 1000 .dcm files");
    return kExitFailed;
  }
  std::sort(paths.begin(), paths.end());
  std::vector<Image> images(paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (std::string e = load(paths[i], images[i]); !e.empty()) {
      std::fprintf(stderr, "pacsnode-codec-timer: %s\n", e.c_str());
      return kExitFailed;
    }
  }

  // One untimed pass: the codestreams the decode timing uses, each checked to be lossless, and
  // the files for the OpenJPEG tools.
  for (std::size_t i = 0; i < images.size(); ++i) {
    Image& image = images[i];
    auto coded = pacs::codecs::encode_j2k(image.pixels, image.layout, {});
    if (!coded) {
      std::fprintf(stderr, "pacsnode-codec-timer: %s: %s\n", image.name.c_str(),
                   coded.error().message.c_str());
      return kExitFailed;
    }
    image.coded = std::move(*coded);
    std::vector<unsigned char> decoded(image.layout.bytes());
    auto ok = pacs::codecs::decode_j2k(image.coded, image.layout, decoded, 1);
    if (!ok || decoded != image.pixels) {
      std::fprintf(stderr,
                   "pacsnode-codec-timer: %s: the codestream does not decode to the image\n",
                   image.name.c_str());
      return kExitFailed;
    }
    char stem[24];
    std::snprintf(stem, sizeof(stem), "%04zu", i);
    if ((!opt.raw_out.empty() && !write_file(fs::path(opt.raw_out) / (std::string(stem) + ".rawl"),
                                             little_endian(image))) ||
        (!opt.j2k_out.empty() &&
         !write_file(fs::path(opt.j2k_out) / (std::string(stem) + ".j2k"), image.coded))) {
      std::fprintf(stderr, "pacsnode-codec-timer: cannot write the files of %s\n",
                   image.name.c_str());
      return kExitFailed;
    }
  }

  // The node's encoder has no thread option: it encodes each frame on the calling thread.
  Clock::time_point start = Clock::now();
  for (int n = 0; n < opt.iterations; ++n) {
    for (const Image& image : images) {
      if (!pacs::codecs::encode_j2k(image.pixels, image.layout, {})) {
        std::fprintf(stderr, "pacsnode-codec-timer: encoding %s failed\n", image.name.c_str());
        return kExitFailed;
      }
    }
  }
  report("encode", 1, images, opt.iterations, seconds_since(start));

  std::vector<unsigned char> out;
  for (unsigned threads : opt.threads) {
    start = Clock::now();
    for (int n = 0; n < opt.iterations; ++n) {
      for (const Image& image : images) {
        // The buffer is reused, as the node's codec writes into the pixel data it allocated.
        out.resize(image.layout.bytes());
        if (!pacs::codecs::decode_j2k(image.coded, image.layout, out, threads)) {
          std::fprintf(stderr, "pacsnode-codec-timer: decoding %s failed\n", image.name.c_str());
          return kExitFailed;
        }
      }
    }
    report("decode", threads, images, opt.iterations, seconds_since(start));
  }
  return 0;
}
