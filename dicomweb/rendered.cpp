// Rendered images (PS3.18 10.4.1.1.5, 8.3.5) and WADO-URI (PS3.18 9): DCMTK's DicomImage with the
// JPEG and PNG plugins; the window from the request, else the stored one (window, else VOI LUT),
// else the pixel range.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmimgle/dcmimage.h>  // before the plugins, which need its export macros

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimage/dipipng.h>
#include <dcmtk/dcmimage/diregist.h>  // color images
#include <dcmtk/dcmjpeg/dipijpeg.h>
#include <stdio.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>

#include "codecs/htj2k.h"
#include "dicomweb/handlers.h"
#include "dicomweb/multipart.h"
#include "dicomweb/url.h"
#include "pacsnode/services/transcode.h"
#include "storage/model/log.h"

namespace pacs::web {
namespace {

constexpr unsigned kThumbnailSize = 128;
constexpr unsigned kMaxViewport = 8192;

struct RenderOptions {
  unsigned frame = 0;  // 0-based
  std::optional<double> center, width;
  EF_VoiLutFunction function = EFV_Linear;  // of the requested window
  unsigned rows = 0, columns = 0;           // the viewport; 0: natural size
  unsigned quality = 90;
  bool png = false;
};

std::vector<double> numbers(const std::string& text) {
  std::vector<double> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v)) return {};
    out.push_back(v);
  }
  return out;
}

// The image, or why not (NotFound: no such frame; InvalidObject: not renderable).
Result<std::string> render(const std::filesystem::path& file, const RenderOptions& options) {
  DcmFileFormat ff;
  if (codecs::load_file(ff, file.c_str()).bad())
    return fail(ErrorCode::StorageFailure, "stored file unreadable");
  DcmDataset* dataset = ff.getDataset();
  Sint32 frames = 1;
  dataset->findAndGetSint32(DCM_NumberOfFrames, frames);
  if (options.frame >= static_cast<unsigned>(std::max<Sint32>(frames, 1)))
    return fail(ErrorCode::NotFound, "frame " + std::to_string(options.frame + 1) +
                                         " does not exist (" + std::to_string(frames) + " frames)");
  DicomImage image(&ff, dataset->getOriginalXfer(), CIF_UsePartialAccessToPixelData, options.frame,
                   1);
  if (image.getStatus() != EIS_Normal)
    return fail(ErrorCode::InvalidObject, std::string("cannot render this instance: ") +
                                              DicomImage::getString(image.getStatus()));
  if (image.isMonochrome()) {
    if (options.center && options.width) {
      image.setWindow(*options.center, *options.width);
      // The requested function, whatever the object's VOI LUT Function (0028,1056) says.
      image.setVoiLutFunction(options.function);
    } else if (image.getWindowCount() > 0) {
      image.setWindow(0);
    } else if (image.getVoiLutCount() > 0) {
      // An object may carry its VOI as a VOI LUT Sequence instead of a window (PS3.3 C.11.2);
      // the pixel range would ignore the curve it asks for.
      image.setVoiLut(0);
    } else {
      image.setMinMaxWindow();
    }
  }
  std::unique_ptr<DicomImage> scaled;
  if (options.rows > 0 && options.columns > 0) {
    // Fit into the viewport, keeping the image's aspect.
    const double scale = std::min(static_cast<double>(options.columns) / image.getWidth(),
                                  static_cast<double>(options.rows) / image.getHeight());
    const auto w = std::max(1ul, static_cast<unsigned long>(image.getWidth() * scale));
    const auto h = std::max(1ul, static_cast<unsigned long>(image.getHeight() * scale));
    scaled.reset(image.createScaledImage(w, h, 1, 0));
    if (!scaled) return fail(ErrorCode::InvalidObject, "cannot scale this instance");
  }
  DicomImage& out = scaled ? *scaled : image;
  char* buffer = nullptr;
  size_t size = 0;
  FILE* stream = ::open_memstream(&buffer, &size);
  if (stream == nullptr) return fail(ErrorCode::StorageFailure, "out of memory");
  int written = 0;
  if (options.png) {
    DiPNGPlugin plugin;
    written = out.writePluginFormat(&plugin, stream, 0);
  } else {
    DiJPEGPlugin plugin;
    plugin.setQuality(options.quality);
    plugin.setSampling(ESS_444);
    written = out.writePluginFormat(&plugin, stream, 0);
  }
  ::fclose(stream);
  std::string bytes(buffer, size);
  ::free(buffer);
  if (!written) return fail(ErrorCode::InvalidObject, "cannot encode the rendered image");
  return bytes;
}

// Which image type the client takes: JPEG (the default) or PNG; nullopt for neither.
std::optional<bool> wants_png(std::string_view accept, const std::string& parameter) {
  if (!parameter.empty()) {
    const auto type = parse_media_type(parameter);
    if (type && type->type == "image/png") return true;
    if (type && (type->type == "image/jpeg" || type->type == "*/*")) return false;
    return std::nullopt;
  }
  if (accept.empty()) return false;
  for (const AcceptedType& offer : parse_accept(accept)) {
    if (offer.q <= 0) continue;
    std::string t = offer.type.type;
    // A study or series answers a multipart of images: its type parameter names theirs.
    if (t == "multipart/related") t = offer.type.parameter("type");
    if (t.empty()) t = "image/jpeg";
    if (t == "image/png") return true;
    if (t == "image/jpeg" || t == "image/*" || t == "*/*") return false;
  }
  return std::nullopt;
}

void answer_image(Exchange& exchange, const Result<std::string>& image, bool png) {
  if (!image) {
    const http::status status = image.error().code == ErrorCode::NotFound ? http::status::not_found
                                : image.error().code == ErrorCode::InvalidObject
                                    ? http::status::not_acceptable
                                    : http::status::internal_server_error;
    reply_error(exchange, status, image.error().message);
    return;
  }
  exchange.respond(http::status::ok, png ? "image/png" : "image/jpeg", *image);
}

std::string parameter(const QueryParameters& parameters, const std::string& name) {
  for (const auto& p : parameters)
    if (p.first == name) return p.second;
  return {};
}

// The rendering a WADO-RS request asks for; an error message, or empty. Plain code: the
// coroutines below only decide and await (see handlers.h on GCC 12).
std::string parse_rendered(const RenderRequest& request, std::string_view accept,
                           RenderOptions& options, bool& unacceptable) {
  const auto png = wants_png(accept, parameter(request.parameters, "accept"));
  if (!png) {
    unacceptable = true;
    return "rendered images are served as image/jpeg or image/png";
  }
  options.png = *png;
  if (!request.frame_list.empty()) {
    // One frame: a rendered frame list names several images, which need multipart; not offered.
    const auto n = number_in(request.frame_list, 1, 1u << 30);
    if (!n) return "one 1-based frame number is rendered at a time";
    options.frame = *n - 1;
  }
  if (const std::string q = parameter(request.parameters, "quality"); !q.empty()) {
    const auto quality = number_in(q, 1, 100);
    if (!quality) return "quality must be 1 to 100";
    options.quality = *quality;
  }
  if (const std::string v = parameter(request.parameters, "viewport"); !v.empty()) {
    const auto values = numbers(v);
    if (values.size() < 2 || values[0] < 1 || values[1] < 1 || values[0] > kMaxViewport ||
        values[1] > kMaxViewport)
      return "viewport must be vw,vh with sizes 1 to " + std::to_string(kMaxViewport);
    options.columns = static_cast<unsigned>(values[0]);
    options.rows = static_cast<unsigned>(values[1]);
  }
  if (const std::string w = parameter(request.parameters, "window"); !w.empty()) {
    // center,width[,function] (PS3.18 8.3.5.1.3): linear when no function is given.
    const std::size_t second = w.find(',', w.find(',') + 1);
    const auto values = numbers(w.substr(0, second));
    if (values.size() != 2 || values[1] <= 0)
      return "window must be center,width[,function] with a positive width";
    options.center = values[0];
    options.width = values[1];
    std::string function = second == std::string::npos ? "linear" : w.substr(second + 1);
    std::transform(function.begin(), function.end(), function.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (function == "sigmoid") {
      options.function = EFV_Sigmoid;
    } else if (function == "linear-exact") {
      // DCMTK 3.6.7 has no LINEAR_EXACT; LINEAR with centre c + 0.5 and width w + 1 is the same
      // function (PS3.3 C.11.2.1.2.1 against C.11.2.1.3.2).
      *options.center += 0.5;
      *options.width += 1;
    } else if (function != "linear") {
      return "the window function must be linear, linear-exact or sigmoid";
    }
  }
  if (request.thumbnail && options.rows == 0) options.rows = options.columns = kThumbnailSize;
  return {};
}

// A WADO-URI request (PS3.18 9.1): an error message, or empty.
std::string parse_uri_request(const QueryParameters& parameters, ResourceUids& uids,
                              RenderOptions& options, bool& dicom, std::string& syntax) {
  if (parameter(parameters, "requestType") != "WADO") return "requestType must be WADO";
  uids = {parameter(parameters, "studyUID"), parameter(parameters, "seriesUID"),
          parameter(parameters, "objectUID")};
  if (uids.study.empty() || uids.series.empty() || uids.instance.empty())
    return "studyUID, seriesUID and objectUID are required";
  const std::string content_type = parameter(parameters, "contentType");
  dicom = content_type == "application/dicom";
  if (dicom) {
    syntax = parameter(parameters, "transferSyntax");
    if (syntax.empty()) syntax = UID_LittleEndianExplicitTransferSyntax;
    if (DcmXfer(syntax.c_str()).getXfer() == EXS_Unknown)
      return "transferSyntax '" + syntax + "' is not a transfer syntax";
    return {};
  }
  const auto png = wants_png("", content_type);
  if (!png) return "contentType must be application/dicom, image/jpeg or image/png";
  options.png = *png;
  const std::string c = parameter(parameters, "windowCenter"),
                    w = parameter(parameters, "windowWidth");
  if (c.empty() != w.empty()) return "windowCenter and windowWidth go together";
  if (!c.empty()) {
    const auto cv = numbers(c), wv = numbers(w);
    if (cv.size() != 1 || wv.size() != 1 || wv[0] <= 0)
      return "windowCenter and windowWidth must be numbers, the width positive";
    options.center = cv[0];
    options.width = wv[0];
  }
  for (const auto& [name, target] :
       {std::pair{"rows", &options.rows}, std::pair{"columns", &options.columns}}) {
    if (const std::string v = parameter(parameters, name); !v.empty()) {
      const auto n = number_in(v, 1, kMaxViewport);
      if (!n) return std::string(name) + " must be 1 to " + std::to_string(kMaxViewport);
      *target = *n;
    }
  }
  // One of rows and columns bounds that side only.
  if (options.rows > 0 && options.columns == 0) options.columns = kMaxViewport;
  if (options.columns > 0 && options.rows == 0) options.rows = kMaxViewport;
  if (const std::string f = parameter(parameters, "frameNumber"); !f.empty()) {
    const auto n = number_in(f, 1, 1u << 30);
    if (!n) return "frameNumber must be one 1-based number";
    options.frame = *n - 1;
  }
  if (const std::string q = parameter(parameters, "imageQuality"); !q.empty()) {
    const auto n = number_in(q, 1, 100);
    if (!n) return "imageQuality must be 1 to 100";
    options.quality = *n;
  }
  return {};
}

Result<std::string> file_as(const RetrieveItem& item, const std::string& syntax) {
  if (!sendable_as_stored(item, syntax)) return converted_instance(item, syntax);
  std::ifstream in(item.file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  if (!in) return fail(ErrorCode::StorageFailure, "stored file unreadable");
  return std::move(out).str();
}

}  // namespace

net::awaitable<void> retrieve_rendered(Exchange& exchange, const WebContext& context,
                                       const RenderRequest& request) {
  RenderOptions options;
  bool unacceptable = false;
  const std::string error =
      parse_rendered(request, exchange.header(http::field::accept), options, unacceptable);
  if (!error.empty()) {
    reply_error(exchange, unacceptable ? http::status::not_acceptable : http::status::bad_request,
                error);
    co_return;
  }
  const ResourceUids& uids = request.uids;
  const auto items = co_await exchange.blocking([&] { return find_instances(context, uids); });
  if (answered_if_missing(exchange, items)) co_return;
  // Study and series thumbnails show their first instance.
  const bool one_image = request.thumbnail || !uids.instance.empty();
  if (one_image) {
    const auto image =
        co_await exchange.blocking([&] { return render(items->front().file, options); });
    answer_image(exchange, image, options.png);
    co_return;
  }
  // A rendered study or series (PS3.18 10.4.1.1.3): a multipart/related of its instances'
  // images, in index order, each rendered as it goes out (never the whole study in memory).
  // Instances that do not render (a report, a waveform) are left out; when none renders the
  // answer is that of the first.
  const std::string media_type = options.png ? "image/png" : "image/jpeg";
  const std::string boundary = new_boundary();
  const std::string content_type =
      "multipart/related; type=\"" + media_type + "\"; boundary=" + boundary;
  const std::string base = base_url(exchange, context);
  const Headers no_headers;
  const std::optional<std::uint64_t> chunked;
  std::optional<Result<std::string>> first_failure;
  std::size_t parts = 0;
  std::string head;
  for (const RetrieveItem& item : *items) {
    const auto image = co_await exchange.blocking([&] { return render(item.file, options); });
    if (!image) {
      if (!first_failure) first_failure = image;
      continue;
    }
    if (parts == 0)
      co_await exchange.begin_stream(http::status::ok, content_type, no_headers, chunked);
    head = (parts++ ? "\r\n--" : "--") + boundary + "\r\nContent-Type: " + media_type +
           "\r\nContent-Location: " + instance_url(base, item) + "/rendered\r\n\r\n";
    co_await exchange.stream(head);
    co_await exchange.stream(*image);
  }
  if (parts == 0) {
    answer_image(exchange, *first_failure, options.png);
    co_return;
  }
  head = "\r\n--" + boundary + "--\r\n";
  co_await exchange.stream(head);
  co_await exchange.end_stream();
  if (parts < items->size())
    PACS_LOG(Info) << "WADO-RS rendered " << uids.study << (uids.series.empty() ? "" : "/")
                   << uids.series << ": " << items->size() - parts
                   << " instances do not render, left out";
}

net::awaitable<void> wado_uri(Exchange& exchange, const WebContext& context,
                              const QueryParameters& parameters) {
  ResourceUids uids;
  RenderOptions options;
  bool dicom = false;
  std::string syntax;
  const std::string error = parse_uri_request(parameters, uids, options, dicom, syntax);
  if (!error.empty()) {
    reply_error(exchange, http::status::bad_request, error);
    co_return;
  }
  const deid::Deidentifier* anonymize = nullptr;
  if (!anonymize_parameter(exchange, context, parameters, anonymize)) co_return;
  if (anonymize && !dicom) {
    // A rendered image shows the pixels, burned-in text and all: de-identified only as DICOM.
    reply_error(exchange, http::status::bad_request,
                "anonymize=yes is served as contentType=application/dicom only");
    co_return;
  }
  const auto items = co_await exchange.blocking([&] { return find_instances(context, uids); });
  if (answered_if_missing(exchange, items)) co_return;
  const RetrieveItem& item = items->front();
  if (!dicom) {
    const auto image = co_await exchange.blocking([&] { return render(item.file, options); });
    answer_image(exchange, image, options.png);
    co_return;
  }
  if (!can_produce(item.transfer_syntax, syntax)) {
    reply_error(exchange, http::status::not_acceptable,
                "the instance cannot be produced in transfer syntax " + syntax);
    co_return;
  }
  if (anonymize) {
    const auto bytes =
        co_await exchange.blocking([&] { return converted_instance(item, syntax, anonymize); });
    const std::vector<const RetrieveItem*> sent{&item};
    co_await exchange.blocking([&] {
      audit_anonymized(exchange, context, bytes ? sent : std::vector<const RetrieveItem*>{},
                       bytes ? 0 : 4);
    });
    if (!bytes && bytes.error().code == ErrorCode::InvalidObject)
      reply_error(exchange, http::status::conflict, "not de-identified: " + bytes.error().message);
    else if (!bytes)
      reply_error(exchange, http::status::internal_server_error, bytes.error().message);
    else
      exchange.respond(http::status::ok, "application/dicom", *bytes);
    co_return;
  }
  const auto bytes = co_await exchange.blocking([&] { return file_as(item, syntax); });
  if (!bytes) {
    reply_error(exchange, http::status::internal_server_error, bytes.error().message);
    co_return;
  }
  exchange.respond(http::status::ok, "application/dicom", *bytes);
}

}  // namespace pacs::web
