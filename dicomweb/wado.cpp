// WADO-RS (PS3.18 10.4): instances as multipart/related application/dicom, streamed file by file,
// and metadata as DICOM JSON with BulkDataURIs.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>

#include "dicomweb/dicom_json.h"
#include "dicomweb/handlers.h"
#include "dicomweb/metadata_cache.h"
#include "dicomweb/multipart.h"
#include "pacsnode/services/deidentified_export.h"
#include "pacsnode/services/transcode.h"
#include "storage/model/log.h"

namespace pacs::web {
namespace {

constexpr std::size_t kChunkBytes = 1 << 20;

// The transfer syntax a client wants instances in: a UID, "*" (as stored), or nullopt when its
// Accept allows no multipart/related application/dicom at all.
std::optional<std::string> wanted_syntax(std::string_view accept) {
  if (accept.empty()) return std::string(UID_LittleEndianExplicitTransferSyntax);
  for (const AcceptedType& offer : parse_accept(accept)) {
    if (offer.q <= 0) continue;
    const std::string& t = offer.type.type;
    if (t == "*/*" || t == "multipart/*")
      return std::string(UID_LittleEndianExplicitTransferSyntax);
    if (t != "multipart/related") continue;
    const std::string type = offer.type.parameter("type");
    if (!type.empty() && type != "application/dicom") continue;
    const std::string syntax = offer.type.parameter("transfer-syntax");
    return syntax.empty() ? std::string(UID_LittleEndianExplicitTransferSyntax) : syntax;
  }
  return std::nullopt;
}

bool accepts_json(std::string_view accept) {
  if (accept.empty()) return true;
  for (const AcceptedType& offer : parse_accept(accept)) {
    if (offer.q <= 0) continue;
    const std::string& t = offer.type.type;
    if (t == "*/*" || t == "application/*" || t == "application/dicom+json" ||
        t == "application/json")
      return true;
  }
  return false;
}

}  // namespace

// A stored instance as it goes out when not as its stored bytes (another syntax, or coerced
// patient attributes), as Part 10 bytes.
Result<std::string> converted_instance(const RetrieveItem& item, const std::string& syntax,
                                       const deid::Deidentifier* deidentifier) {
  auto loaded = deidentifier ? deidentified_copy(*deidentifier, {}, item, syntax)
                             : load_for_sending(item, syntax);
  if (!loaded) return tl::unexpected(loaded.error());
  DcmFileFormat& ff = **loaded;
  const E_TransferSyntax target = DcmXfer(syntax.c_str()).getXfer();
  std::string out;
  std::vector<char> buffer(kChunkBytes);
  DcmOutputBufferStream stream(buffer.data(), static_cast<offile_off_t>(buffer.size()));
  ff.transferInit();
  OFCondition c;
  // Bounded by the data set: every pass writes another buffer's worth.
  while ((c = ff.write(stream, target, EET_ExplicitLength, nullptr)) == EC_StreamNotifyClient) {
    void* data = nullptr;
    offile_off_t length = 0;
    stream.flushBuffer(data, length);
    out.append(static_cast<const char*>(data), static_cast<std::size_t>(length));
  }
  ff.transferEnd();
  if (c.bad()) return fail(ErrorCode::StorageFailure, std::string("cannot encode: ") + c.text());
  stream.flush();
  void* data = nullptr;
  offile_off_t length = 0;
  stream.flushBuffer(data, length);
  out.append(static_cast<const char*>(data), static_cast<std::size_t>(length));
  return out;
}

std::string instance_url(const std::string& base, const RetrieveItem& item) {
  return base + "/studies/" + item.study_uid + "/series/" + item.series_uid + "/instances/" +
         item.sop_instance_uid;
}

Result<std::vector<RetrieveItem>> find_instances(const WebContext& context,
                                                 const ResourceUids& uids) {
  DcmDataset identifier;
  const char* level = !uids.instance.empty() ? "IMAGE" : !uids.series.empty() ? "SERIES" : "STUDY";
  identifier.putAndInsertString(DCM_QueryRetrieveLevel, level);
  identifier.putAndInsertString(DCM_StudyInstanceUID, uids.study.c_str());
  if (!uids.series.empty())
    identifier.putAndInsertString(DCM_SeriesInstanceUID, uids.series.c_str());
  if (!uids.instance.empty())
    identifier.putAndInsertString(DCM_SOPInstanceUID, uids.instance.c_str());
  return context.retrieve.resolve(identifier, QueryModel::StudyRoot);
}

bool answered_if_missing(Exchange& exchange, const Result<std::vector<RetrieveItem>>& items) {
  if (!items) {
    reply_error(exchange, http::status::bad_request, items.error().message);
    return true;
  }
  if (items->empty()) {
    reply_error(exchange, http::status::not_found, "no such study, series or instance");
    return true;
  }
  return false;
}

net::awaitable<void> retrieve_instances(Exchange& exchange, const WebContext& context,
                                        const ResourceUids& uids,
                                        const QueryParameters& parameters) {
  const auto syntax = wanted_syntax(exchange.header(http::field::accept));
  if (!syntax) {
    reply_error(exchange, http::status::not_acceptable,
                "instances are served as multipart/related; type=\"application/dicom\"");
    co_return;
  }
  const deid::Deidentifier* anonymize = nullptr;
  if (!anonymize_parameter(exchange, context, parameters, anonymize)) co_return;
  // De-identified copies are never the stored bytes.
  auto as_stored = [anonymize](const RetrieveItem& item, const std::string& part_syntax) {
    return anonymize == nullptr && sendable_as_stored(item, part_syntax);
  };
  std::size_t refused = 0;  // by de-identification
  const auto items = co_await exchange.blocking([&] { return find_instances(context, uids); });
  if (answered_if_missing(exchange, items)) co_return;
  std::vector<const RetrieveItem*> sendable;
  for (const RetrieveItem& item : *items)
    if (can_produce(item.transfer_syntax, *syntax)) sendable.push_back(&item);
  auto part_syntax_of = [&syntax](const RetrieveItem& item) {
    return *syntax == "*" ? item.transfer_syntax : *syntax;
  };
  // A converted part is made before its header goes out, so an instance an encoder refuses (JPEG
  // baseline from 16-bit data, say) is left out rather than cutting the answer short. The first
  // one is made before the status line: when it is refused, the status can still say so (406 when
  // nothing is left, else 206 with a Warning). A later refusal can only be logged.
  std::string last_refusal;
  std::optional<std::string> first_converted;
  // Bounded by the instances: every pass converts the first one or drops it.
  while (!sendable.empty() && !as_stored(*sendable.front(), part_syntax_of(*sendable.front()))) {
    const RetrieveItem& item = *sendable.front();
    const std::string part_syntax = part_syntax_of(item);
    auto bytes = co_await exchange.blocking(
        [&] { return converted_instance(item, part_syntax, anonymize); });
    if (bytes) {
      first_converted = std::move(*bytes);
      break;
    }
    last_refusal = bytes.error().message;
    if (anonymize && bytes.error().code == ErrorCode::InvalidObject) ++refused;
    PACS_LOG(Warn) << "WADO-RS: " << item.sop_instance_uid << " left out: " << last_refusal;
    sendable.erase(sendable.begin());
  }
  if (sendable.empty() && refused > 0) {
    co_await exchange.blocking([&] { audit_anonymized(exchange, context, {}, 4); });
    reply_error(exchange, http::status::conflict, "not de-identified: " + last_refusal);
    co_return;
  }
  if (sendable.empty()) {
    reply_error(exchange, http::status::not_acceptable,
                "no instance can be produced in transfer syntax " + *syntax +
                    (last_refusal.empty() ? "" : " (" + last_refusal + ")"));
    co_return;
  }
  const std::string boundary = new_boundary();
  const std::string base = base_url(exchange, context);
  Headers headers;
  const bool partial = sendable.size() < items->size();
  if (partial)
    headers.emplace_back("Warning", "299 " + base + ": " +
                                        std::to_string(items->size() - sendable.size()) +
                                        " instances cannot be produced in " + *syntax);
  const http::status status = partial ? http::status::partial_content : http::status::ok;
  const std::string content_type =
      "multipart/related; type=\"application/dicom\"; boundary=" + boundary;
  // Part headers first, so that when every part goes out as stored the whole length is known
  // (file sizes) and the body needs no chunk framing.
  std::vector<std::string> heads;
  std::optional<std::uint64_t> length = 0;
  for (const RetrieveItem* item : sendable) {
    const std::string part_syntax = part_syntax_of(*item);
    const bool raw = as_stored(*item, part_syntax);
    heads.push_back("--" + boundary +
                    "\r\nContent-Type: application/dicom; transfer-syntax=" + part_syntax +
                    "\r\nContent-Location: " + instance_url(base, *item) + "\r\n\r\n");
    std::error_code ec;
    const auto size = std::filesystem::file_size(item->file, ec);
    if (!raw || ec)
      length.reset();
    else if (length)
      *length += heads.back().size() + (heads.size() > 1 ? 2 : 0) + size;
  }
  const std::string close = "\r\n--" + boundary + "--\r\n";
  if (length) *length += close.size();
  co_await exchange.begin_stream(status, content_type, headers, length);
  std::vector<char> buffer(kChunkBytes);
  bool first_part = true;
  std::vector<const RetrieveItem*> anonymized;
  for (std::size_t i = 0; i < sendable.size(); ++i) {
    const RetrieveItem* item = sendable[i];
    const std::string part_syntax = part_syntax_of(*item);
    const std::string head = (first_part ? "" : "\r\n") + heads[i];
    if (!as_stored(*item, part_syntax)) {
      std::string converted;
      if (i == 0 && first_converted) {
        converted = std::move(*first_converted);
      } else {
        auto bytes = co_await exchange.blocking(
            [&] { return converted_instance(*item, part_syntax, anonymize); });
        if (!bytes) {
          PACS_LOG(Warn) << "WADO-RS: " << item->sop_instance_uid
                         << " left out of an answer under way: " << bytes.error().message;
          if (anonymize) ++refused;
          continue;
        }
        converted = std::move(*bytes);
      }
      co_await exchange.stream(head);
      co_await exchange.stream(converted);
      first_part = false;
      if (anonymize) anonymized.push_back(item);
      continue;
    }
    co_await exchange.stream(head);
    first_part = false;
    {
      const int fd = ::open(item->file.c_str(), O_RDONLY | O_CLOEXEC);
      struct stat status {};
      bool sent = false;
      if (fd >= 0 && ::fstat(fd, &status) == 0) {
        try {
          sent = co_await exchange.stream_file(fd, static_cast<std::uint64_t>(status.st_size));
        } catch (...) {
          ::close(fd);
          throw;
        }
      }
      if (fd >= 0) ::close(fd);
      if (sent) continue;
    }
    std::ifstream in(item->file, std::ios::binary);
    if (!in) throw std::runtime_error("stored file of " + item->sop_instance_uid + " unreadable");
    // Bounded by the file size: every pass reads a chunk until the end.
    for (;;) {
      const std::size_t got = co_await exchange.blocking([&] {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        return static_cast<std::size_t>(in.gcount());
      });
      if (got == 0) break;
      co_await exchange.stream({buffer.data(), got});
      if (got < buffer.size()) break;
    }
  }
  co_await exchange.stream(close);
  co_await exchange.end_stream();
  if (anonymize)
    co_await exchange.blocking(
        [&] { audit_anonymized(exchange, context, anonymized, refused > 0 ? 4 : 0); });
}

net::awaitable<void> retrieve_metadata(Exchange& exchange, const WebContext& context,
                                       const ResourceUids& uids) {
  if (!accepts_json(exchange.header(http::field::accept))) {
    reply_error(exchange, http::status::not_acceptable,
                "metadata is served as application/dicom+json");
    co_return;
  }
  const auto items = co_await exchange.blocking([&] { return find_instances(context, uids); });
  if (answered_if_missing(exchange, items)) co_return;
  const std::string base = base_url(exchange, context);
  const http::status status = http::status::ok;
  const std::string content_type = "application/dicom+json";
  const Headers no_headers;
  const std::optional<std::uint64_t> unknown_length;
  co_await exchange.begin_stream(status, content_type, no_headers, unknown_length);
  // Instances are read side by side on the worker pool, a batch at a time (memory stays bounded).
  // Metadata built for want of a cache is cached after the answer went out, unless too much of it
  // waits: the first request for a study costs no more than without a cache.
  constexpr std::size_t kBatch = 64;
  constexpr std::size_t kMaxPendingCacheBytes = 16 << 20;
  std::vector<std::pair<const RetrieveItem*, std::string>> to_cache;
  std::size_t pending_bytes = 0;
  bool first = true;
  for (std::size_t from = 0; from < items->size(); from += kBatch) {
    std::vector<std::function<Result<CachedMetadata>()>> tasks;
    for (std::size_t i = from; i < std::min(items->size(), from + kBatch); ++i) {
      const RetrieveItem& item = (*items)[i];
      tasks.push_back([&item]() { return load_metadata(item); });
    }
    auto loaded = co_await exchange.blocking_all(std::move(tasks));
    std::string piece;
    for (std::size_t k = 0; k < loaded.size(); ++k) {
      if (!loaded[k]) throw std::runtime_error(loaded[k].error().message);
      const RetrieveItem& item = (*items)[from + k];
      piece += first ? "[" : ",";
      piece += with_instance_url(loaded[k]->json, instance_url(base, item));
      first = false;
      if (loaded[k]->to_cache) {
        pending_bytes += loaded[k]->json.size();
        to_cache.emplace_back(&item, std::move(loaded[k]->json));
      }
    }
    co_await exchange.stream(piece);
    if (pending_bytes > kMaxPendingCacheBytes) {
      co_await exchange.blocking([&to_cache] {
        for (const auto& pending : to_cache) cache_metadata(*pending.first, pending.second);
      });
      to_cache.clear();
      pending_bytes = 0;
    }
  }
  const std::string end = "]";
  co_await exchange.stream(end);
  co_await exchange.end_stream();
  if (!to_cache.empty())
    co_await exchange.blocking([&to_cache] {
      for (const auto& pending : to_cache) cache_metadata(*pending.first, pending.second);
    });
}

}  // namespace pacs::web
