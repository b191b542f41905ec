// WADO-RS frames and bulk data (PS3.18 10.4.1.1.3-4): uncompressed pixel frames and the values
// behind the BulkDataURIs that /metadata hands out.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "codecs/htj2k.h"
#include "dicomweb/handlers.h"
#include "dicomweb/multipart.h"
#include "pacsnode/services/transcode.h"

namespace pacs::web {
namespace {

constexpr const char* kExplicitLittle = UID_LittleEndianExplicitTransferSyntax;

// PS3.18 Table 8.7.3-5: the media type of a compressed frame per transfer syntax.
std::string media_type_of(const std::string& syntax) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {"1.2.840.10008.1.2.4.50", "image/jpeg"},   {"1.2.840.10008.1.2.4.51", "image/jpeg"},
      {"1.2.840.10008.1.2.4.57", "image/jpeg"},   {"1.2.840.10008.1.2.4.70", "image/jpeg"},
      {"1.2.840.10008.1.2.4.80", "image/jls"},    {"1.2.840.10008.1.2.4.81", "image/jls"},
      {"1.2.840.10008.1.2.5", "image/dicom-rle"}, {"1.2.840.10008.1.2.4.90", "image/jp2"},
      {"1.2.840.10008.1.2.4.91", "image/jp2"},    {"1.2.840.10008.1.2.4.92", "image/jpx"},
      {"1.2.840.10008.1.2.4.93", "image/jpx"},    {"1.2.840.10008.1.2.4.201", "image/jphc"},
      {"1.2.840.10008.1.2.4.202", "image/jphc"},  {"1.2.840.10008.1.2.4.203", "image/jphc"}};
  for (const auto& [uid, type] : kTypes)
    if (syntax == uid) return type;
  return {};
}

// Older editions' and some clients' spellings of the same types.
std::string canonical_media_type(const std::string& type) {
  if (type == "image/x-jls") return "image/jls";
  if (type == "image/x-dicom-rle") return "image/dicom-rle";
  return type;
}

// The syntax a compressed media type means when the client names none (PS3.18 Table 8.7.3-5):
// the lossless one of each family.
std::string default_syntax_of(const std::string& media_type) {
  if (media_type == "image/jpeg") return UID_JPEGProcess14SV1TransferSyntax;
  if (media_type == "image/jls") return UID_JPEGLSLosslessTransferSyntax;
  if (media_type == "image/jp2") return UID_JPEG2000LosslessOnlyTransferSyntax;
  if (media_type == "image/dicom-rle") return UID_RLELosslessTransferSyntax;
  return {};
}

// How frames go out: uncompressed (application/octet-stream in explicit little endian), or in a
// compressed syntax with its media type, the stored one or one the codecs produce.
struct FrameEncoding {
  std::string media_type, syntax;
};

// The first encoding the Accept header allows that we can produce; nullopt for none.
std::optional<FrameEncoding> frame_encoding(std::string_view accept, const std::string& stored) {
  const FrameEncoding uncompressed{"application/octet-stream", kExplicitLittle};
  if (accept.empty()) return uncompressed;
  const std::string stored_type = media_type_of(stored);
  for (const AcceptedType& offer : parse_accept(accept)) {
    if (offer.q <= 0) continue;
    const std::string& t = offer.type.type;
    const std::string type =
        canonical_media_type(t == "multipart/related" ? offer.type.parameter("type") : t);
    std::string syntax = offer.type.parameter("transfer-syntax");
    if (t == "*/*" || type.empty() || type == "application/octet-stream") {
      if (syntax.empty() || syntax == "*" || syntax == kExplicitLittle) return uncompressed;
      continue;
    }
    if (syntax.empty() || syntax == "*")
      syntax = type == stored_type ? stored : default_syntax_of(type);
    if (syntax.empty() || media_type_of(syntax) != type) continue;
    if (syntax == stored || can_produce(stored, syntax)) return FrameEncoding{type, syntax};
  }
  return std::nullopt;
}

// Bulk data is served uncompressed only.
bool accepts_octet_stream(std::string_view accept) {
  const auto encoding = frame_encoding(accept, {});
  return encoding && encoding->syntax == kExplicitLittle;
}

// "1,3,2": 1-based frame numbers in request order; nullopt for anything else (0, duplicates).
std::optional<std::vector<Uint32>> frame_numbers(const std::string& list) {
  std::vector<Uint32> out;
  std::set<Uint32> seen;
  std::size_t from = 0;
  // Bounded by the list: every pass consumes one number.
  while (from <= list.size()) {
    const std::size_t comma = list.find(',', from);
    const std::size_t end = comma == std::string::npos ? list.size() : comma;
    Uint32 n = 0;
    const auto [ptr, ec] = std::from_chars(list.data() + from, list.data() + end, n);
    if (ec != std::errc() || ptr != list.data() + end || n == 0 || !seen.insert(n).second)
      return std::nullopt;
    out.push_back(n);
    from = end + 1;
  }
  return out;
}

struct Parts {
  std::vector<std::string> bodies;
  Error error{ErrorCode::NotFound, ""};
  bool ok = false;
};

// The frames, each as uncompressed little endian bytes (decompressed by DCMTK if need be).
Parts read_frames(const std::filesystem::path& file, const std::vector<Uint32>& frames) {
  Parts out;
  DcmFileFormat ff;
  if (codecs::load_file(ff, file.c_str()).bad()) {
    out.error = {ErrorCode::StorageFailure, "stored file unreadable"};
    return out;
  }
  DcmDataset& dataset = *ff.getDataset();
  DcmElement* element = nullptr;
  if (dataset.findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) {
    out.error = {ErrorCode::NotFound, "the instance has no pixel data"};
    return out;
  }
  auto* pixels = static_cast<DcmPixelData*>(element);
  Sint32 count = 1;
  dataset.findAndGetSint32(DCM_NumberOfFrames, count);
  Uint32 frame_size = 0;
  if (pixels->getUncompressedFrameSize(&dataset, frame_size).bad() || frame_size == 0) {
    out.error = {ErrorCode::InvalidObject, "cannot size the frames of this instance"};
    return out;
  }
  Uint16 bits = 0;
  dataset.findAndGetUint16(DCM_BitsAllocated, bits);
  if (bits == 1) {
    out.error = {ErrorCode::InvalidObject, "bit-packed frames are not served"};
    return out;
  }
  for (const Uint32 n : frames) {
    if (n > static_cast<Uint32>(std::max<Sint32>(count, 1))) {
      out.error = {ErrorCode::NotFound, "frame " + std::to_string(n) + " does not exist (" +
                                            std::to_string(count) + " frames)"};
      return out;
    }
    // The buffer must be even-sized for DCMTK's byte swapping.
    std::string frame(frame_size + (frame_size & 1), '\0');
    Uint32 start_fragment = 0;
    OFString color_model;
    if (pixels
            ->getUncompressedFrame(&dataset, n - 1, start_fragment, frame.data(),
                                   static_cast<Uint32>(frame.size()), color_model)
            .bad()) {
      out.error = {ErrorCode::StorageFailure, "cannot decode frame " + std::to_string(n)};
      return out;
    }
    frame.resize(frame_size);
    out.bodies.push_back(std::move(frame));
  }
  out.ok = true;
  return out;
}

// The frames' codestreams, without the DICOM item headers (PS3.5 A.4): one fragment per frame,
// or the fragments the Basic Offset Table assigns to each frame, or, for a single frame, all
// fragments. The data set holds them in its current (compressed) representation.
Parts compressed_frames(DcmDataset& dataset, const std::vector<Uint32>& frames) {
  Parts out;
  DcmElement* element = nullptr;
  if (dataset.findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) {
    out.error = {ErrorCode::NotFound, "the instance has no pixel data"};
    return out;
  }
  Sint32 count = 1;
  dataset.findAndGetSint32(DCM_NumberOfFrames, count);
  count = std::max<Sint32>(count, 1);
  DcmPixelSequence* sequence = nullptr;
  auto* pixels = static_cast<DcmPixelData*>(element);
  E_TransferSyntax current = EXS_Unknown;
  const DcmRepresentationParameter* parameter = nullptr;
  pixels->getCurrentRepresentationKey(current, parameter);
  if (pixels->getEncapsulatedRepresentation(current, parameter, sequence).bad() ||
      sequence == nullptr || sequence->card() < 2) {
    out.error = {ErrorCode::InvalidObject, "the pixel data is not encapsulated"};
    return out;
  }
  const unsigned long fragments = sequence->card() - 1;         // item 0 is the offset table
  std::vector<std::pair<unsigned long, unsigned long>> ranges;  // [first, last) per frame
  if (count == 1) {
    ranges.emplace_back(1, fragments + 1);
  } else if (fragments == static_cast<unsigned long>(count)) {
    for (unsigned long f = 1; f <= fragments; ++f) ranges.emplace_back(f, f + 1);
  } else {
    // Offsets in the table count bytes from the first fragment's item header.
    DcmPixelItem* table = nullptr;
    Uint32* offsets = nullptr;
    if (sequence->getItem(table, 0).bad() || table->getLength() != 4u * count ||
        table->getUint32Array(offsets).bad()) {
      out.error = {ErrorCode::InvalidObject, "frames span fragments without an offset table"};
      return out;
    }
    std::vector<Uint32> starts;  // byte position of each fragment item
    Uint32 at = 0;
    for (unsigned long f = 1; f <= fragments; ++f) {
      DcmPixelItem* item = nullptr;
      sequence->getItem(item, f);
      starts.push_back(at);
      at += 8 + item->getLength();
    }
    for (Sint32 frame = 0; frame < count; ++frame) {
      const auto first = std::find(starts.begin(), starts.end(), offsets[frame]);
      const Uint32 end = frame + 1 < count ? offsets[frame + 1] : at;
      const auto last = std::find(starts.begin(), starts.end(), end);
      if (first == starts.end()) {
        out.error = {ErrorCode::InvalidObject, "the offset table does not match the fragments"};
        return out;
      }
      ranges.emplace_back(static_cast<unsigned long>(first - starts.begin()) + 1,
                          last == starts.end()
                              ? fragments + 1
                              : static_cast<unsigned long>(last - starts.begin()) + 1);
    }
  }
  for (const Uint32 n : frames) {
    if (n > ranges.size()) {
      out.error = {ErrorCode::NotFound, "frame " + std::to_string(n) + " does not exist (" +
                                            std::to_string(count) + " frames)"};
      return out;
    }
    std::string frame;
    for (unsigned long f = ranges[n - 1].first; f < ranges[n - 1].second; ++f) {
      DcmPixelItem* item = nullptr;
      Uint8* bytes = nullptr;
      if (sequence->getItem(item, f).good() && item->getUint8Array(bytes).good() && bytes)
        frame.append(reinterpret_cast<const char*>(bytes), item->getLength());
    }
    out.bodies.push_back(std::move(frame));
  }
  out.ok = true;
  return out;
}

// A top-level element's value (Pixel Data: every frame, uncompressed).
Parts read_bulk(const std::filesystem::path& file, const DcmTagKey& tag) {
  if (tag == DCM_PixelData) {
    DcmFileFormat ff;
    Sint32 count = 1;
    if (ff.loadFile(file.c_str(), EXS_Unknown, EGL_noChange, 1024).good())
      ff.getDataset()->findAndGetSint32(DCM_NumberOfFrames, count);
    std::vector<Uint32> all;
    for (Sint32 i = 1; i <= std::max<Sint32>(count, 1); ++i) all.push_back(static_cast<Uint32>(i));
    Parts frames = read_frames(file, all);
    if (!frames.ok) return frames;
    std::string joined;
    for (auto& f : frames.bodies) joined += f;
    frames.bodies = {std::move(joined)};
    return frames;
  }
  Parts out;
  DcmFileFormat ff;
  DcmElement* element = nullptr;
  if (ff.loadFile(file.c_str()).bad() ||
      ff.getDataset()->findAndGetElement(tag, element, OFFalse).bad() || element == nullptr) {
    out.error = {ErrorCode::NotFound, "no such bulk data in this instance"};
    return out;
  }
  Uint8* bytes = nullptr;
  if (element->getUint8Array(bytes).bad() && element->getLengthField() > 0) {
    out.error = {ErrorCode::InvalidObject, "this element is not bulk data"};
    return out;
  }
  out.bodies.emplace_back(reinterpret_cast<const char*>(bytes), element->getLengthField());
  out.ok = true;
  return out;
}

// Sets the multipart answer, or the error's.
void answer_parts(Exchange& exchange, const Parts& parts, const std::string& location,
                  const std::string& media_type = "application/octet-stream",
                  const std::string& syntax = kExplicitLittle) {
  if (!parts.ok) {
    const http::status status = parts.error.code == ErrorCode::NotFound ? http::status::not_found
                                : parts.error.code == ErrorCode::InvalidObject
                                    ? http::status::not_acceptable
                                    : http::status::internal_server_error;
    reply_error(exchange, status, parts.error.message);
    return;
  }
  const std::string boundary = new_boundary();
  std::string body;
  for (const std::string& part : parts.bodies) {
    body += "--" + boundary + "\r\nContent-Type: " + media_type + "; transfer-syntax=" + syntax +
            "\r\n";
    if (!location.empty()) body += "Content-Location: " + location + "\r\n";
    body += "\r\n" + part + "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  exchange.respond(http::status::ok,
                   "multipart/related; type=\"" + media_type + "\"; boundary=" + boundary,
                   std::move(body));
}

}  // namespace

net::awaitable<void> retrieve_frames(Exchange& exchange, const WebContext& context,
                                     const ResourceUids& uids, const std::string& frame_list) {
  const auto frames = frame_numbers(frame_list);
  if (!frames) {
    reply_error(exchange, http::status::bad_request,
                "frame list must be distinct 1-based numbers separated by commas");
    co_return;
  }
  const auto items = co_await exchange.blocking([&] { return find_instances(context, uids); });
  if (answered_if_missing(exchange, items)) co_return;
  const RetrieveItem& item = items->front();
  const auto encoding = frame_encoding(exchange.header(http::field::accept), item.transfer_syntax);
  if (!encoding) {
    reply_error(exchange, http::status::not_acceptable,
                "frames are served uncompressed (multipart/related; "
                "type=\"application/octet-stream\") or as image/jpeg, image/jls, image/jp2 or "
                "image/dicom-rle in a syntax the node can produce from " +
                    item.transfer_syntax);
    co_return;
  }
  const Parts parts = co_await exchange.blocking([&] {
    if (encoding->syntax == kExplicitLittle) return read_frames(item.file, *frames);
    // The stored codestreams, or the object converted to the syntax asked for.
    auto loaded = load_for_sending(item, encoding->syntax);
    if (!loaded) {
      Parts refused;
      refused.error = loaded.error();
      return refused;
    }
    return compressed_frames(*(*loaded)->getDataset(), *frames);
  });
  answer_parts(exchange, parts, "", encoding->media_type, encoding->syntax);
}

net::awaitable<void> retrieve_bulkdata(Exchange& exchange, const WebContext& context,
                                       const ResourceUids& uids, const std::string& tag) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(tag.data(), tag.data() + tag.size(), value, 16);
  if (tag.size() != 8 || ec != std::errc() || ptr != tag.data() + tag.size()) {
    reply_error(exchange, http::status::bad_request, "bulk data is named by its tag: GGGGEEEE");
    co_return;
  }
  if (!accepts_octet_stream(exchange.header(http::field::accept))) {
    reply_error(exchange, http::status::not_acceptable,
                "bulk data is served as multipart/related; type=\"application/octet-stream\"");
    co_return;
  }
  const auto items = co_await exchange.blocking([&] { return find_instances(context, uids); });
  if (answered_if_missing(exchange, items)) co_return;
  const DcmTagKey key(static_cast<Uint16>(value >> 16), static_cast<Uint16>(value & 0xffff));
  const Parts parts =
      co_await exchange.blocking([&] { return read_bulk(items->front().file, key); });
  answer_parts(exchange, parts,
               instance_url(base_url(exchange, context), items->front()) + "/bulkdata/" + tag);
}

}  // namespace pacs::web
