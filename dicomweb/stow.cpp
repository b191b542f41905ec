// STOW-RS (PS3.18 10.5): a multipart/related body of Part 10 instances, streamed part by part
// into temp files, then every instance through the same ingest as C-STORE (same durability, same
// duplicate policy). The answer is sent only after all of them are durable.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "codecs/bounded_load.h"
#include "dicomweb/dicom_json.h"
#include "dicomweb/handlers.h"
#include "dicomweb/multipart.h"
#include "pacsnode/services/store_status.h"
#include "security/audit_trail.h"
#include "storage/model/log.h"

namespace pacs::web {
namespace {

constexpr std::size_t kReadBytes = 256 * 1024;
// Headers are parsed from the first bytes only; pixel data stays in the file.
constexpr Uint32 kHeaderValueLimit = 1024;
// Our choice for "the instance belongs to another study than the URL names" (PS3.18 has no code
// of its own for it): an "Error: cannot understand" code, as other archives use.
constexpr std::uint16_t kDifferentStudy = 0xC409;
constexpr std::uint16_t kCannotUnderstand = 0xC000;
// Each part is a temp file until it is ingested: a body of countless tiny parts is refused.
constexpr std::size_t kMaxParts = 10000;

struct Part {
  TempFile file;
  int fd = -1;
  std::string error;  // set when the part cannot be stored, whatever its content
  std::uint16_t failure = kCannotUnderstand;  // the Failure Reason that goes with error
  std::optional<ErrorCode> cause;             // of a failure to write it

  // A write to the temp file failed with errno `error_number`: the part cannot be stored, for
  // want of resources (A700), not for anything in it.
  void write_failed(int error_number) {
    const Error why{storage_error_code(error_number),
                    std::string("cannot write the part to disk: ") + std::strerror(error_number)};
    failure = store_status_for(why);
    error = why.message;
    cause = why.code;
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

struct Identity {
  std::string sop_class, sop_instance, study, series;
};

struct PartOutcome {
  Identity identity;
  std::uint16_t failure = 0;  // 0: stored
  std::string why;
  std::optional<ErrorCode> cause;  // why it failed, where the node knows
  std::string patient_id;          // of a stored part, for the audit trail
};

// Nothing stored: 409 when the instances were at fault; 507 when the disk had no room, 503 when
// the index could not be reached, for any of them (the client may send them again later).
http::status status_when_none_stored(const std::vector<PartOutcome>& outcomes) {
  const auto any = [&outcomes](ErrorCode code) {
    return std::any_of(outcomes.begin(), outcomes.end(),
                       [code](const PartOutcome& o) { return o.cause == code; });
  };
  if (any(ErrorCode::StorageFull)) return http::status::insufficient_storage;
  if (any(ErrorCode::IndexUnavailable) || any(ErrorCode::Conflict))
    return http::status::service_unavailable;
  return http::status::conflict;
}

Identity identity_of(const std::filesystem::path& file) {
  DcmFileFormat ff;
  Identity out;
  // The part may be the malformed one: its declared lengths are checked before any value is read.
  if (codecs::load_bounded(ff, file.c_str(), kHeaderValueLimit, ERM_autoDetect).bad()) return out;
  OFString value;
  DcmDataset& d = *ff.getDataset();
  if (d.findAndGetOFString(DCM_SOPClassUID, value).good()) out.sop_class = value.c_str();
  if (d.findAndGetOFString(DCM_SOPInstanceUID, value).good()) out.sop_instance = value.c_str();
  if (d.findAndGetOFString(DCM_StudyInstanceUID, value).good()) out.study = value.c_str();
  if (d.findAndGetOFString(DCM_SeriesInstanceUID, value).good()) out.series = value.c_str();
  return out;
}

}  // namespace

net::awaitable<void> store_instances(Exchange& exchange, const WebContext& context,
                                     const std::string& study) {
  const auto content_type = parse_media_type(exchange.header(http::field::content_type));
  if (!content_type || content_type->type != "multipart/related" ||
      (!content_type->parameter("type").empty() &&
       content_type->parameter("type") != "application/dicom")) {
    reply_error(exchange, http::status::unsupported_media_type,
                "STOW-RS takes multipart/related; type=\"application/dicom\"");
    co_return;
  }
  const std::string boundary = content_type->parameter("boundary");
  if (boundary.empty() || boundary.size() > 70) {
    reply_error(exchange, http::status::bad_request,
                "the multipart/related Content-Type needs a boundary of 1 to 70 "
                "characters");
    co_return;
  }

  // At the data disk's reserve nothing can be stored: refused before the body is read.
  if (auto room = context.ingest.check_room(); !room) {
    reply_error(exchange, http::status::insufficient_storage, room.error().message);
    co_return;
  }

  std::vector<Part> parts;
  auto close_current = [&] {
    if (!parts.empty() && parts.back().fd >= 0) {
      const int fd = std::exchange(parts.back().fd, -1);
      if (::close(fd) != 0 && parts.back().error.empty()) parts.back().write_failed(errno);
    }
  };
  MultipartReader reader(
      boundary, {.begin_part =
                     [&](const PartHeaders& headers) {
                       if (parts.size() == kMaxParts) return false;
                       Part part{context.ingest.new_temp_file(), -1, {}, kCannotUnderstand, {}};
                       const auto type = headers.count("content-type")
                                             ? parse_media_type(headers.at("content-type"))
                                             : std::optional<MediaType>{};
                       if (type && type->type != "application/dicom") {
                         part.error = "part of type " + type->type + " is not application/dicom";
                       } else {
                         part.fd = ::open(part.file.path().c_str(),
                                          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
                         if (part.fd < 0) part.error = "cannot create a temp file";
                       }
                       parts.push_back(std::move(part));
                       return true;
                     },
                 .part_data =
                     [&](std::span<const char> bytes) {
                       Part& part = parts.back();
                       if (part.fd < 0) return true;  // an unusable part: its data is skipped
                       // Bounded by the bytes: every pass writes some or records the failure.
                       while (!bytes.empty()) {
                         const ssize_t n = ::write(part.fd, bytes.data(), bytes.size());
                         if (n < 0 && errno == EINTR) continue;
                         if (n <= 0) {
                           part.write_failed(n < 0 ? errno : ENOSPC);
                           break;
                         }
                         bytes = bytes.subspan(static_cast<std::size_t>(n));
                       }
                       return true;
                     },
                 .end_part =
                     [&] {
                       close_current();
                       return true;
                     }});
  std::vector<char> buffer(kReadBytes);
  // Bounded by the body (at most the configured body limit).
  for (;;) {
    const std::size_t got = co_await exchange.read_body(buffer);
    if (got == 0) break;
    if (auto fed = reader.feed({buffer.data(), got}); !fed) {
      close_current();
      if (parts.size() == kMaxParts)
        reply_error(exchange, http::status::payload_too_large,
                    "more than " + std::to_string(kMaxParts) + " parts in one request");
      else
        reply_error(exchange, http::status::bad_request, fed.error().message);
      co_return;  // the temp files go with `parts`; nothing was stored
    }
  }
  close_current();
  if (auto finished = reader.finish(); !finished) {
    reply_error(exchange, http::status::bad_request, finished.error().message);
    co_return;
  }
  if (parts.empty()) {
    reply_error(exchange, http::status::bad_request, "the body holds no parts");
    co_return;
  }

  // Every complete part through ingest, side by side (their syncs share commits).
  std::vector<std::function<PartOutcome()>> tasks;
  for (Part& part : parts) {
    tasks.push_back([&context, &study, &part]() -> PartOutcome {
      if (!part.error.empty()) return {{}, part.failure, part.error, part.cause, {}};
      PartOutcome out;
      out.identity = identity_of(part.file.path());
      if (!study.empty() && out.identity.study != study) {
        out.failure = kDifferentStudy;
        out.why = "the instance belongs to study " + out.identity.study + ", not " + study;
        return out;
      }
      auto stored = context.ingest.ingest(std::move(part.file), std::nullopt);
      if (!stored) {
        out.failure = store_status_for(stored.error());
        out.why = stored.error().message;
        out.cause = stored.error().code;
      } else {
        out.patient_id = stored->patient_id;
      }
      return out;
    });
  }
  const std::vector<PartOutcome> outcomes = co_await exchange.blocking_all(std::move(tasks));

  const std::string base = base_url(exchange, context);
  DcmDataset response;
  std::size_t stored = 0;
  std::string only_study = study;
  audit::TransferTally received;
  for (const PartOutcome& o : outcomes) {
    DcmItem* item = nullptr;
    const DcmTagKey sequence = o.failure ? DCM_FailedSOPSequence : DCM_ReferencedSOPSequence;
    response.findOrCreateSequenceItem(sequence, item, -2);
    item->putAndInsertString(DCM_ReferencedSOPClassUID, o.identity.sop_class.c_str());
    item->putAndInsertString(DCM_ReferencedSOPInstanceUID, o.identity.sop_instance.c_str());
    if (o.failure) {
      item->putAndInsertUint16(DCM_FailureReason, o.failure);
      PACS_LOG(Warn) << "STOW-RS part "
                     << (o.identity.sop_instance.empty() ? "(unidentified)"
                                                         : o.identity.sop_instance)
                     << " failed (0x" << std::hex << o.failure << std::dec << "): " << o.why;
      continue;
    }
    ++stored;
    received.add(o.identity.study, o.patient_id, o.identity.sop_class);
    if (only_study.empty()) only_study = o.identity.study;
    item->putAndInsertString(
        DCM_RetrieveURL, (base + "/studies/" + o.identity.study + "/series/" + o.identity.series +
                          "/instances/" + o.identity.sop_instance)
                             .c_str());
  }
  if (!only_study.empty())
    response.putAndInsertString(DCM_RetrieveURL, (base + "/studies/" + only_study).c_str());
  const http::status status = stored == outcomes.size() ? http::status::ok
                              : stored > 0              ? http::status::accepted
                                                        : status_when_none_stored(outcomes);
  if (!received.empty())
    audit::record(audit::instances_transferred(
        true, stored == outcomes.size() ? 0 : 4, requestor(exchange),
        audit::node_participant(context.aet, false), received.studies()));
  exchange.respond(status, "application/dicom+json", to_dicom_json(response));
}

}  // namespace pacs::web
