#include "codecs/j2k_codec.h"

#include "codecs/lossy_history.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcstack.h>
#include <dcmtk/dcmdata/dcswap.h>
#include <dcmtk/dcmdata/dcvrobow.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "codecs/j2k.h"

namespace pacs::codecs {
namespace {

// The module number of our conditions (DCMTK's own modules stay below 1024).
constexpr unsigned short kModule = 1024;

OFCondition failure(const std::string& text) {
  return makeOFCondition(kModule, 1, OF_error, ("JPEG 2000: " + text).c_str());
}

OFCondition failure(const Error& error) {
  return failure(error.message);
}

// The item holding the pixel data: one below the pixel data element on the stack.
DcmItem* dataset_of(const DcmStack& stack) {
  if (stack.card() < 2) return nullptr;
  DcmObject* item = stack.elem(1);
  if (!item || (item->ident() != EVR_dataset && item->ident() != EVR_item)) return nullptr;
  return static_cast<DcmItem*>(item);
}

struct Image {
  FrameLayout layout;
  Uint32 frames = 1;
  std::string photometric;
  Uint16 planar = 0;
};

Result<Image> image_of(DcmItem& dataset) {
  Uint16 rows = 0, columns = 0, samples = 0, allocated = 0, stored = 0, representation = 0;
  if (dataset.findAndGetUint16(DCM_Rows, rows).bad() ||
      dataset.findAndGetUint16(DCM_Columns, columns).bad() ||
      dataset.findAndGetUint16(DCM_SamplesPerPixel, samples).bad() ||
      dataset.findAndGetUint16(DCM_BitsAllocated, allocated).bad() ||
      dataset.findAndGetUint16(DCM_BitsStored, stored).bad())
    return fail(ErrorCode::InvalidObject, "the image pixel module is incomplete");
  dataset.findAndGetUint16(DCM_PixelRepresentation, representation);
  Image image;
  image.layout = {columns, rows, samples, allocated, stored, representation == 1};
  if (!supported_layout(image.layout))
    return fail(ErrorCode::InvalidObject, "no JPEG 2000 coding for " + std::to_string(samples) +
                                              " samples of " + std::to_string(stored) + "/" +
                                              std::to_string(allocated) + " bits");
  Sint32 frames = 1;
  if (dataset.findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) frames = 1;
  image.frames = static_cast<Uint32>(frames);
  OFString photometric;
  dataset.findAndGetOFString(DCM_PhotometricInterpretation, photometric);
  image.photometric = photometric.c_str();
  dataset.findAndGetUint16(DCM_PlanarConfiguration, image.planar);
  return image;
}

// What a decoded frame is: OpenJPEG undoes a multi-component transform itself.
std::string decoded_color_model(const std::string& photometric) {
  return photometric == "YBR_RCT" || photometric == "YBR_ICT" ? "RGB" : photometric;
}

std::span<const unsigned char> bytes_of(DcmPixelItem& item) {
  Uint8* data = nullptr;
  if (item.getUint8Array(data).bad() || !data) return {};
  return {data, item.getLength()};
}

// The fragments (pixel items after the offset table) that make up each frame.
Result<std::vector<std::vector<DcmPixelItem*>>> frames_of(DcmPixelSequence& sequence,
                                                          Uint32 frames) {
  std::vector<DcmPixelItem*> fragments;
  for (unsigned long i = 1; i < sequence.card(); ++i) {
    DcmPixelItem* item = nullptr;
    if (sequence.getItem(item, i).bad() || !item)
      return fail(ErrorCode::Malformed, "unreadable pixel item");
    fragments.push_back(item);
  }
  if (fragments.empty()) return fail(ErrorCode::Malformed, "no compressed fragments");
  std::vector<std::vector<DcmPixelItem*>> out;
  DcmPixelItem* table = nullptr;
  sequence.getItem(table, 0);
  const auto offsets = table ? bytes_of(*table) : std::span<const unsigned char>{};
  if (frames == 1) {
    out.push_back(fragments);
  } else if (offsets.size() == 4 * static_cast<std::size_t>(frames)) {
    // Basic Offset Table: each frame's first byte, counted from the first fragment's item tag.
    std::vector<Uint32> starts;
    for (Uint32 f = 0; f < frames; ++f)
      starts.push_back(static_cast<Uint32>(offsets[4 * f]) | offsets[4 * f + 1] << 8 |
                       offsets[4 * f + 2] << 16 | static_cast<Uint32>(offsets[4 * f + 3]) << 24);
    Uint32 position = 0;
    std::size_t next = 0;
    for (DcmPixelItem* fragment : fragments) {
      while (next < starts.size() && starts[next] == position) {
        out.emplace_back();
        ++next;
      }
      if (out.empty()) return fail(ErrorCode::Malformed, "the offset table misses a fragment");
      out.back().push_back(fragment);
      position += 8 + fragment->getLength();
    }
    if (out.size() != frames) return fail(ErrorCode::Malformed, "the offset table is inconsistent");
  } else if (fragments.size() == frames) {
    for (DcmPixelItem* fragment : fragments) out.push_back({fragment});
  } else {
    // No table and several fragments per frame: a codestream ends with its EOC marker (FFD9),
    // perhaps followed by the pad byte that keeps fragments even.
    out.emplace_back();
    for (DcmPixelItem* fragment : fragments) {
      out.back().push_back(fragment);
      const auto b = bytes_of(*fragment);
      const std::size_t n = b.size();
      const bool ends = (n >= 2 && b[n - 2] == 0xFF && b[n - 1] == 0xD9) ||
                        (n >= 3 && b[n - 3] == 0xFF && b[n - 2] == 0xD9 && b[n - 1] == 0x00);
      if (ends && out.size() < frames) out.emplace_back();
    }
    if (out.back().empty()) out.pop_back();
    if (out.size() != frames)
      return fail(ErrorCode::Malformed, "cannot tell the frames apart among the fragments");
  }
  return out;
}

Result<void> decode_frame(const std::vector<DcmPixelItem*>& fragments, const FrameLayout& layout,
                          std::span<unsigned char> out, unsigned threads) {
  if (fragments.size() == 1) return decode_j2k(bytes_of(*fragments[0]), layout, out, threads);
  std::vector<unsigned char> joined;
  for (DcmPixelItem* fragment : fragments) {
    const auto b = bytes_of(*fragment);
    joined.insert(joined.end(), b.begin(), b.end());
  }
  return decode_j2k(joined, layout, out, threads);
}

unsigned threads_of(const DcmCodecParameter* parameter) {
  const auto* ours = dynamic_cast<const J2kCodecParameter*>(parameter);
  return ours ? ours->threads() : 1;
}

}  // namespace

OFBool J2kRepresentationParameter::operator==(const DcmRepresentationParameter& other) const {
  const auto* same = dynamic_cast<const J2kRepresentationParameter*>(&other);
  return same && same->ratio_ == ratio_;
}

OFBool J2kCodec::canChangeCoding(const E_TransferSyntax old_syntax,
                                 const E_TransferSyntax new_syntax) const {
  const DcmXfer from(old_syntax), to(new_syntax);
  return (old_syntax == syntax_ && to.isNotEncapsulated()) ||
         (new_syntax == syntax_ && from.isNotEncapsulated());
}

OFCondition J2kCodec::decode(const DcmRepresentationParameter*, DcmPixelSequence* pixels,
                             DcmPolymorphOBOW& uncompressed, const DcmCodecParameter* parameter,
                             const DcmStack& stack, OFBool&) const {
  DcmItem* dataset = dataset_of(stack);
  if (!dataset || !pixels) return failure("no data set around the pixel data");
  auto image = image_of(*dataset);
  if (!image) return failure(image.error());
  auto frames = frames_of(*pixels, image->frames);
  if (!frames) return failure(frames.error());
  const std::size_t frame_bytes = image->layout.bytes();
  const std::size_t total = frame_bytes * image->frames;
  if (total > 0xFFFFFFFEu) return failure("the decompressed pixel data would exceed 4 GB");
  Uint16* words = nullptr;
  if (uncompressed.createUint16Array(static_cast<Uint32>((total + 1) / 2), words).bad() || !words)
    return failure("cannot allocate the decompressed pixel data");
  auto* bytes = reinterpret_cast<unsigned char*>(words);
  if (total % 2) bytes[total] = 0;  // the pad byte of an odd length
  for (Uint32 f = 0; f < image->frames; ++f)
    if (auto done = decode_frame((*frames)[f], image->layout,
                                 {bytes + f * frame_bytes, frame_bytes}, threads_of(parameter));
        !done)
      return failure(done.error());
  // Eight-bit samples were laid down as a byte stream; DCMTK keeps OW values in host order.
  if (image->layout.bits_allocated == 8)
    swapIfNecessary(gLocalByteOrder, EBO_LittleEndian, words, static_cast<Uint32>(total + 1) & ~1u,
                    sizeof(Uint16));
  if (image->layout.samples == 3) dataset->putAndInsertUint16(DCM_PlanarConfiguration, 0);
  const std::string model = decoded_color_model(image->photometric);
  if (model != image->photometric)
    dataset->putAndInsertString(DCM_PhotometricInterpretation, model.c_str());
  return EC_Normal;
}

OFCondition J2kCodec::decodeFrame(const DcmRepresentationParameter*, DcmPixelSequence* pixels,
                                  const DcmCodecParameter* parameter, DcmItem* dataset,
                                  Uint32 frame, Uint32& start_fragment, void* buffer,
                                  Uint32 buffer_size, OFString& color_model) const {
  if (!dataset || !pixels) return failure("no data set around the pixel data");
  auto image = image_of(*dataset);
  if (!image) return failure(image.error());
  if (frame >= image->frames) return failure("no frame " + std::to_string(frame));
  if (buffer_size < image->layout.bytes()) return failure("frame buffer too small");
  auto frames = frames_of(*pixels, image->frames);
  if (!frames) return failure(frames.error());
  auto* bytes = static_cast<unsigned char*>(buffer);
  if (auto done = decode_frame((*frames)[frame], image->layout, {bytes, image->layout.bytes()},
                               threads_of(parameter));
      !done)
    return failure(done.error());
  // The next frame's first fragment (fragments are counted from 1, after the offset table).
  Uint32 fragments_before = 1;
  for (Uint32 f = 0; f <= frame; ++f) fragments_before += static_cast<Uint32>((*frames)[f].size());
  start_fragment = fragments_before;
  color_model = decoded_color_model(image->photometric).c_str();
  return EC_Normal;
}

OFCondition J2kCodec::encode(const Uint16* pixel_data, const Uint32 length,
                             const DcmRepresentationParameter* to_param, DcmPixelSequence*& pixels,
                             const DcmCodecParameter*, DcmStack& stack, OFBool&) const {
  pixels = nullptr;
  DcmItem* dataset = dataset_of(stack);
  if (!dataset || !pixel_data) return failure("no data set around the pixel data");
  auto image = image_of(*dataset);
  if (!image) return failure(image.error());
  if (image->photometric.rfind("YBR_PARTIAL", 0) == 0 || image->photometric == "YBR_FULL_422")
    return failure("no JPEG 2000 coding for " + image->photometric + " (subsampled) data");
  const std::size_t frame_bytes = image->layout.bytes();
  if (length < frame_bytes * image->frames) return failure("pixel data shorter than its frames");
  const bool lossy = syntax_ == EXS_JPEG2000;
  J2kEncoding encoding;
  if (lossy) {
    const auto* asked = dynamic_cast<const J2kRepresentationParameter*>(to_param);
    encoding.lossy_ratio = asked ? asked->ratio() : J2kRepresentationParameter().ratio();
  }

  // The frames as a byte stream (eight-bit samples in stream order), interleaved.
  std::vector<unsigned char> stream(
      reinterpret_cast<const unsigned char*>(pixel_data),
      reinterpret_cast<const unsigned char*>(pixel_data) + frame_bytes * image->frames);
  if (image->layout.bits_allocated == 8 && stream.size() % 2 == 0)
    swapIfNecessary(EBO_LittleEndian, gLocalByteOrder, stream.data(),
                    static_cast<Uint32>(stream.size()), sizeof(Uint16));
  const std::size_t sample_bytes = image->layout.bits_allocated / 8;
  const std::size_t pixels_per_frame =
      static_cast<std::size_t>(image->layout.columns) * image->layout.rows;
  std::vector<unsigned char> interleaved;

  auto sequence = std::make_unique<DcmPixelSequence>(DcmTag(DCM_PixelData, EVR_OB));
  auto* table = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
  sequence->insert(table);
  DcmOffsetList offsets;
  std::size_t compressed = 0;
  for (Uint32 f = 0; f < image->frames; ++f) {
    std::span<const unsigned char> frame(stream.data() + f * frame_bytes, frame_bytes);
    if (image->layout.samples == 3 && image->planar == 1) {
      // Colour by plane: interleave it, as the encoder takes samples.
      interleaved.resize(frame_bytes);
      for (std::size_t p = 0; p < pixels_per_frame; ++p)
        for (std::size_t c = 0; c < 3; ++c)
          std::memcpy(&interleaved[(p * 3 + c) * sample_bytes],
                      &frame[(c * pixels_per_frame + p) * sample_bytes], sample_bytes);
      frame = interleaved;
    }
    auto coded = encode_j2k(frame, image->layout, encoding);
    if (!coded) return failure(coded.error());
    compressed += coded->size();
    if (OFCondition c = sequence->storeCompressedFrame(offsets, coded->data(),
                                                       static_cast<Uint32>(coded->size()), 0);
        c.bad())
      return c;
  }
  if (OFCondition c = table->createOffsetTable(offsets); c.bad()) return c;
  if (image->layout.samples == 3) dataset->putAndInsertUint16(DCM_PlanarConfiguration, 0);
  if (lossy) {
    // PS3.3 C.7.6.1.1.5: lossy compression is recorded, with its ratio and method.
    dataset->putAndInsertString(DCM_LossyImageCompression, "01");
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f",
                  static_cast<double>(frame_bytes * image->frames) /
                      static_cast<double>(compressed ? compressed : 1));
    append_value(*dataset, DCM_LossyImageCompressionRatio, ratio);
    append_value(*dataset, DCM_LossyImageCompressionMethod, "ISO_15444_1");
  }
  pixels = sequence.release();
  return EC_Normal;
}

OFCondition J2kCodec::encode(const E_TransferSyntax, const DcmRepresentationParameter*,
                             DcmPixelSequence*, const DcmRepresentationParameter*,
                             DcmPixelSequence*&, const DcmCodecParameter*, DcmStack&,
                             OFBool&) const {
  // Compressed to compressed: DCMTK decompresses first, then asks for encode() above.
  return EC_IllegalCall;
}

OFCondition J2kCodec::determineDecompressedColorModel(const DcmRepresentationParameter*,
                                                      DcmPixelSequence*, const DcmCodecParameter*,
                                                      DcmItem* dataset,
                                                      OFString& color_model) const {
  if (!dataset) return EC_IllegalParameter;
  OFString photometric;
  if (OFCondition c = dataset->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
      c.bad())
    return c;
  color_model = decoded_color_model(photometric.c_str()).c_str();
  return EC_Normal;
}

}  // namespace pacs::codecs
