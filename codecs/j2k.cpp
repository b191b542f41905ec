#include "codecs/j2k.h"

#include <openjpeg.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

namespace pacs::codecs {
namespace {

struct CodecDeleter {
  void operator()(opj_codec_t* c) const { opj_destroy_codec(c); }
};
struct StreamDeleter {
  void operator()(opj_stream_t* s) const { opj_stream_destroy(s); }
};
struct ImageDeleter {
  void operator()(opj_image_t* i) const { opj_image_destroy(i); }
};
using Codec = std::unique_ptr<opj_codec_t, CodecDeleter>;
using Stream = std::unique_ptr<opj_stream_t, StreamDeleter>;
using OpjImage = std::unique_ptr<opj_image_t, ImageDeleter>;

// OpenJPEG reports through callbacks; the last error becomes the message of a failure.
void keep_error(const char* message, void* user) {
  auto* error = static_cast<std::string*>(user);
  *error = message ? message : "";
  while (!error->empty() && (error->back() == '\n' || error->back() == ' ')) error->pop_back();
}
void ignore_message(const char*, void*) {}

void route_messages(opj_codec_t* codec, std::string& error) {
  opj_set_error_handler(codec, keep_error, &error);
  opj_set_warning_handler(codec, ignore_message, nullptr);
  opj_set_info_handler(codec, ignore_message, nullptr);
}

// ---- reading from memory
struct Source {
  const unsigned char* data;
  std::size_t size, at = 0;
  void move_to(std::size_t to) { at = std::min(size, to); }
};

OPJ_SIZE_T source_read(void* buffer, OPJ_SIZE_T wanted, void* user) {
  auto* s = static_cast<Source*>(user);
  if (s->at >= s->size) return static_cast<OPJ_SIZE_T>(-1);  // end of stream
  const std::size_t n = std::min<std::size_t>(wanted, s->size - s->at);
  std::memcpy(buffer, s->data + s->at, n);
  s->at += n;
  return n;
}

// Moves a memory stream's position by `count` (OpenJPEG skips both ways); a reader stops at its
// end, a writer grows.
template <typename Memory>
OPJ_OFF_T skip_in(OPJ_OFF_T count, void* user) {
  auto* m = static_cast<Memory*>(user);
  if (count < 0 && static_cast<std::size_t>(-count) > m->at) return -1;
  m->move_to(count < 0 ? m->at - static_cast<std::size_t>(-count)
                       : m->at + static_cast<std::size_t>(count));
  return count;
}

OPJ_BOOL source_seek(OPJ_OFF_T to, void* user) {
  auto* s = static_cast<Source*>(user);
  if (to < 0 || static_cast<std::size_t>(to) > s->size) return OPJ_FALSE;
  s->at = static_cast<std::size_t>(to);
  return OPJ_TRUE;
}

Stream reading(Source& source) {
  Stream stream(opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE));
  if (!stream) return stream;
  opj_stream_set_user_data(stream.get(), &source, nullptr);
  opj_stream_set_user_data_length(stream.get(), source.size);
  opj_stream_set_read_function(stream.get(), source_read);
  opj_stream_set_skip_function(stream.get(), skip_in<Source>);
  opj_stream_set_seek_function(stream.get(), source_seek);
  return stream;
}

// ---- writing to memory
struct Sink {
  std::vector<unsigned char> bytes;
  std::size_t at = 0, end = 0;
  void reach(std::size_t size) {
    if (bytes.size() < size) bytes.resize(std::max(size, bytes.size() * 2));
    end = std::max(end, size);
  }
  void move_to(std::size_t to) {
    at = to;
    reach(at);
  }
};

OPJ_SIZE_T sink_write(void* buffer, OPJ_SIZE_T count, void* user) {
  auto* s = static_cast<Sink*>(user);
  s->reach(s->at + count);
  std::memcpy(s->bytes.data() + s->at, buffer, count);
  s->at += count;
  return count;
}

OPJ_BOOL sink_seek(OPJ_OFF_T to, void* user) {
  auto* s = static_cast<Sink*>(user);
  if (to < 0) return OPJ_FALSE;
  s->move_to(static_cast<std::size_t>(to));
  return OPJ_TRUE;
}

// A JP2 file starts with its signature box; a raw codestream with SOC and SIZ markers.
Result<OPJ_CODEC_FORMAT> format_of(std::span<const unsigned char> bytes) {
  static constexpr unsigned char kJp2[] = {0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20};
  static constexpr unsigned char kCodestream[] = {0xFF, 0x4F, 0xFF, 0x51};
  if (bytes.size() >= sizeof kJp2 && std::equal(kJp2, kJp2 + sizeof kJp2, bytes.begin()))
    return OPJ_CODEC_JP2;
  if (bytes.size() >= sizeof kCodestream &&
      std::equal(kCodestream, kCodestream + sizeof kCodestream, bytes.begin()))
    return OPJ_CODEC_J2K;
  return fail(ErrorCode::Malformed, "not a JPEG 2000 codestream (no SOC/SIZ marker)");
}

// A decoder with the header read: the codec, its stream and the image it will fill.
struct Header {
  Codec codec;
  Stream stream;
  OpjImage image;
};

Result<Header> read_header(Source& source, std::string& error, unsigned threads) {
  auto format = format_of({source.data, source.size});
  if (!format) return tl::unexpected(format.error());
  Header h{Codec(opj_create_decompress(*format)), reading(source), nullptr};
  if (!h.codec || !h.stream) return fail(ErrorCode::StorageFailure, "OpenJPEG: out of memory");
  route_messages(h.codec.get(), error);
  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  if (!opj_setup_decoder(h.codec.get(), &parameters))
    return fail(ErrorCode::Malformed, "JPEG 2000: " + error);
  // A truncated codestream is an error, not a blurred image.
  opj_decoder_set_strict_mode(h.codec.get(), OPJ_TRUE);
  if (threads > 1 && opj_has_thread_support())
    opj_codec_set_threads(h.codec.get(), static_cast<int>(threads));
  opj_image_t* image = nullptr;
  if (!opj_read_header(h.stream.get(), h.codec.get(), &image)) {
    opj_image_destroy(image);
    return fail(ErrorCode::Malformed, "JPEG 2000 header: " + error);
  }
  h.image.reset(image);
  return h;
}

Result<FrameLayout> layout_of(const opj_image_t& image) {
  if (image.numcomps != 1 && image.numcomps != 3)
    return fail(ErrorCode::Malformed, "JPEG 2000 image of " + std::to_string(image.numcomps) +
                                          " components (1 or 3 are taken)");
  if (image.x1 <= image.x0 || image.y1 <= image.y0)
    return fail(ErrorCode::Malformed, "JPEG 2000 image without pixels");
  const opj_image_comp_t& first = image.comps[0];
  for (OPJ_UINT32 c = 0; c < image.numcomps; ++c) {
    const opj_image_comp_t& comp = image.comps[c];
    if (comp.dx != 1 || comp.dy != 1)
      return fail(ErrorCode::Malformed, "subsampled JPEG 2000 components are not taken");
    if (comp.prec != first.prec || comp.sgnd != first.sgnd)
      return fail(ErrorCode::Malformed, "JPEG 2000 components of different precision");
  }
  if (first.prec < 1 || first.prec > 16)
    return fail(ErrorCode::Malformed,
                "JPEG 2000 precision of " + std::to_string(first.prec) + " bits (1 to 16 taken)");
  FrameLayout layout;
  layout.columns = image.x1 - image.x0;
  layout.rows = image.y1 - image.y0;
  layout.samples = static_cast<std::uint16_t>(image.numcomps);
  layout.bits_stored = static_cast<std::uint16_t>(first.prec);
  layout.bits_allocated = first.prec <= 8 ? 8 : 16;
  layout.is_signed = first.sgnd != 0;
  return layout;
}

// The sample at `index` (in samples from the frame's start) as its signed or unsigned value.
std::int32_t read_sample(std::span<const unsigned char> frame, const FrameLayout& layout,
                         std::size_t index) {
  std::uint32_t raw = 0;
  if (layout.bits_allocated == 8) {
    raw = frame[index];
  } else {
    std::uint16_t word;
    std::memcpy(&word, frame.data() + 2 * index, 2);
    raw = word;
  }
  const std::uint32_t mask =
      layout.bits_stored >= 32 ? ~0u : (std::uint32_t{1} << layout.bits_stored) - 1;
  raw &= mask;
  if (layout.is_signed && (raw >> (layout.bits_stored - 1)) & 1u)
    return static_cast<std::int32_t>(raw) - static_cast<std::int32_t>(mask) - 1;
  return static_cast<std::int32_t>(raw);
}

void write_sample(std::span<unsigned char> frame, const FrameLayout& layout, std::size_t index,
                  std::int32_t value) {
  if (layout.bits_allocated == 8) {
    frame[index] = static_cast<unsigned char>(value);
  } else {
    const auto word = static_cast<std::uint16_t>(value);
    std::memcpy(frame.data() + 2 * index, &word, 2);
  }
}

}  // namespace

bool supported_layout(const FrameLayout& layout) {
  return (layout.samples == 1 || layout.samples == 3) &&
         (layout.bits_allocated == 8 || layout.bits_allocated == 16) && layout.bits_stored >= 1 &&
         layout.bits_stored <= layout.bits_allocated && layout.columns > 0 && layout.rows > 0;
}

Result<std::vector<unsigned char>> encode_j2k(std::span<const unsigned char> frame,
                                              const FrameLayout& layout,
                                              const J2kEncoding& encoding) {
  if (!supported_layout(layout))
    return fail(ErrorCode::InvalidObject, "no JPEG 2000 encoding for this pixel layout");
  if (frame.size() < layout.bytes())
    return fail(ErrorCode::InvalidObject, "frame shorter than its rows, columns and samples");
  opj_image_cmptparm_t components[3] = {};
  for (std::uint16_t c = 0; c < layout.samples; ++c) {
    components[c].dx = components[c].dy = 1;
    components[c].w = layout.columns;
    components[c].h = layout.rows;
    components[c].prec = layout.bits_stored;
    components[c].sgnd = layout.is_signed ? 1 : 0;
  }
  OpjImage image(opj_image_create(layout.samples, components,
                                  layout.samples == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY));
  if (!image) return fail(ErrorCode::StorageFailure, "OpenJPEG: out of memory");
  image->x1 = layout.columns;
  image->y1 = layout.rows;
  const std::size_t pixels = static_cast<std::size_t>(layout.columns) * layout.rows;
  for (std::size_t p = 0; p < pixels; ++p)
    for (std::uint16_t c = 0; c < layout.samples; ++c)
      image->comps[c].data[p] = read_sample(frame, layout, p * layout.samples + c);

  opj_cparameters_t parameters;
  opj_set_default_encoder_parameters(&parameters);
  parameters.tcp_numlayers = 1;
  parameters.cp_disto_alloc = 1;
  parameters.tcp_rates[0] = encoding.lossy_ratio > 0 ? static_cast<float>(encoding.lossy_ratio) : 0;
  parameters.irreversible = encoding.lossy_ratio > 0 ? 1 : 0;
  parameters.tcp_mct = 0;
  // As many decomposition levels as the image allows, up to the usual five.
  const std::uint32_t smaller = std::min(layout.columns, layout.rows);
  parameters.numresolution = 6;
  while (parameters.numresolution > 1 &&
         (std::uint32_t{1} << (parameters.numresolution - 1)) > smaller)
    --parameters.numresolution;

  std::string error;
  Codec codec(opj_create_compress(OPJ_CODEC_J2K));
  if (!codec) return fail(ErrorCode::StorageFailure, "OpenJPEG: out of memory");
  route_messages(codec.get(), error);
  if (!opj_setup_encoder(codec.get(), &parameters, image.get()))
    return fail(ErrorCode::InvalidObject, "JPEG 2000 encoder setup: " + error);
  Sink sink;
  Stream stream(opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_FALSE));
  if (!stream) return fail(ErrorCode::StorageFailure, "OpenJPEG: out of memory");
  opj_stream_set_user_data(stream.get(), &sink, nullptr);
  opj_stream_set_write_function(stream.get(), sink_write);
  opj_stream_set_skip_function(stream.get(), skip_in<Sink>);
  opj_stream_set_seek_function(stream.get(), sink_seek);
  if (!opj_start_compress(codec.get(), image.get(), stream.get()) ||
      !opj_encode(codec.get(), stream.get()) || !opj_end_compress(codec.get(), stream.get()))
    return fail(ErrorCode::InvalidObject, "JPEG 2000 encoding failed: " + error);
  stream.reset();  // flushes what OpenJPEG still buffers
  sink.bytes.resize(sink.end);
  return std::move(sink.bytes);
}

Result<FrameLayout> j2k_layout(std::span<const unsigned char> codestream) {
  Source source{codestream.data(), codestream.size()};
  std::string error;
  auto header = read_header(source, error, 1);
  if (!header) return tl::unexpected(header.error());
  return layout_of(*header->image);
}

Result<void> decode_j2k(std::span<const unsigned char> codestream, const FrameLayout& expected,
                        std::span<unsigned char> out, unsigned threads) {
  if (out.size() < expected.bytes())
    return fail(ErrorCode::InvalidArgument, "decode buffer smaller than the frame");
  Source source{codestream.data(), codestream.size()};
  std::string error;
  auto header = read_header(source, error, threads);
  if (!header) return tl::unexpected(header.error());
  auto layout = layout_of(*header->image);
  if (!layout) return tl::unexpected(layout.error());
  if (layout->columns != expected.columns || layout->rows != expected.rows ||
      layout->samples != expected.samples || layout->bits_stored > expected.bits_allocated)
    return fail(ErrorCode::Malformed, "the JPEG 2000 image (" + std::to_string(layout->columns) +
                                          "x" + std::to_string(layout->rows) + ", " +
                                          std::to_string(layout->samples) + " samples, " +
                                          std::to_string(layout->bits_stored) +
                                          " bits) is not the one the data set describes");
  opj_image_t& image = *header->image;
  if (!opj_decode(header->codec.get(), header->stream.get(), &image) ||
      !opj_end_decompress(header->codec.get(), header->stream.get()))
    return fail(ErrorCode::Malformed, "JPEG 2000 decoding failed: " + error);
  for (std::uint16_t c = 0; c < expected.samples; ++c)
    if (!image.comps[c].data || image.comps[c].w != expected.columns ||
        image.comps[c].h != expected.rows)
      return fail(ErrorCode::Malformed, "JPEG 2000 decoding gave no full-size component");
  const std::size_t pixels = static_cast<std::size_t>(expected.columns) * expected.rows;
  for (std::size_t p = 0; p < pixels; ++p)
    for (std::uint16_t c = 0; c < expected.samples; ++c)
      write_sample(out, expected, p * expected.samples + c, image.comps[c].data[p]);
  return {};
}

}  // namespace pacs::codecs
