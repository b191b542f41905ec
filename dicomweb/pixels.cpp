// WADO-RS frames and bulk data (PS3.18 10.4.1.1.3-4): uncompressed pixel frames and the values
// behind the BulkDataURIs that /metadata hands out.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <charconv>
#include <set>

#include "dicomweb/handlers.h"
#include "dicomweb/multipart.h"

namespace pacs::web {
namespace {

constexpr const char* kExplicitLittle = UID_LittleEndianExplicitTransferSyntax;

// Uncompressed little endian is what we produce; a client must accept it.
bool accepts_octet_stream(std::string_view accept) {
  if (accept.empty()) return true;
  for (const AcceptedType& offer : parse_accept(accept)) {
    if (offer.q <= 0) continue;
    const std::string& t = offer.type.type;
    if (t == "*/*" || t == "application/octet-stream") return true;
    if (t != "multipart/related") continue;
    const std::string type = offer.type.parameter("type");
    const std::string syntax = offer.type.parameter("transfer-syntax");
    if ((type.empty() || type == "application/octet-stream") &&
        (syntax.empty() || syntax == "*" || syntax == kExplicitLittle))
      return true;
  }
  return false;
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
  if (ff.loadFile(file.c_str()).bad()) {
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
void answer_parts(Exchange& exchange, const Parts& parts, const std::string& location) {
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
    body += "--" + boundary +
            "\r\nContent-Type: application/octet-stream; transfer-syntax=" + kExplicitLittle +
            "\r\n";
    if (!location.empty()) body += "Content-Location: " + location + "\r\n";
    body += "\r\n" + part + "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  exchange.respond(http::status::ok,
                   "multipart/related; type=\"application/octet-stream\"; boundary=" + boundary,
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
  if (!accepts_octet_stream(exchange.header(http::field::accept))) {
    reply_error(exchange, http::status::not_acceptable,
                "frames are served uncompressed, as multipart/related; "
                "type=\"application/octet-stream\"");
    co_return;
  }
  const auto items = co_await exchange.blocking([&] { return find_instances(context, uids); });
  if (answered_if_missing(exchange, items)) co_return;
  const Parts parts =
      co_await exchange.blocking([&] { return read_frames(items->front().file, *frames); });
  answer_parts(exchange, parts, "");
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
