#include "pacsnode/services/ingest.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <fstream>
#include <string_view>

#include "codecs/bounded_load.h"
#include "codecs/htj2k.h"
#include "pacsnode/services/coercion.h"
#include "pacsnode/services/deflated.h"
#include "pacsnode/services/transcode.h"
#include "storage/checksum.h"
#include "storage/dicom_attributes.h"
#include "storage/model/log.h"
#include "storage/model/metrics.h"
#include "storage/part10.h"

namespace pacs {
namespace fs = std::filesystem;
namespace {

// Values larger than this stay in the file while the header is parsed (pixel data, bulk data).
constexpr Uint32 kMaxLoadedValue = 4096;

// A deflated object, its data set read from a bounded inflated copy (see deflated.h) that starts
// at data_set_offset in the file.
Result<void> read_deflated(const fs::path& path, std::uint64_t data_set_offset,
                           DcmFileFormat& file) {
  if (OFCondition c = codecs::load_bounded(file, path.c_str(), kMaxLoadedValue, ERM_metaOnly);
      c.bad())
    return fail(ErrorCode::Malformed, std::string("cannot parse object: ") + c.text());
  const fs::path inflated = path.string() + ".inflated";
  struct Remove {
    const fs::path& p;
    ~Remove() {
      std::error_code ignored;
      fs::remove(p, ignored);
    }
  } remove{inflated};
  if (auto done = inflate_data_set(path, data_set_offset, inflated); !done) return done;
  const OFCondition c = codecs::load_bounded(*file.getDataset(), inflated.c_str(),
                                             EXS_LittleEndianExplicit, kMaxLoadedValue);
  if (c.bad()) return fail(ErrorCode::Malformed, std::string("cannot parse object: ") + c.text());
  // Values left in the inflated copy would be gone with it: nothing reads them after this check.
  return {};
}

}  // namespace

Result<ParsedObject> parse_received(const fs::path& path, const std::optional<Announced>& announced,
                                    const std::vector<RouteRule>& routes) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return fail(ErrorCode::StorageFailure, "cannot read received object: " + ec.message());
  DcmFileFormat file;
  const DeflationCheck deflation = check_deflation(path);
  if (deflation.kind == Deflation::Deflated) {
    if (auto read = read_deflated(path, deflation.data_set_offset, file); !read)
      return tl::unexpected(read.error());
  } else {
    if (deflation.kind == Deflation::Unclear) {
      // A meta group our walk cannot place: ask DCMTK, whose reading decides, before a deflated
      // data set could reach its unbounded reader.
      OFString declared;
      if (codecs::load_bounded(file, path.c_str(), kMaxLoadedValue, ERM_metaOnly).good())
        file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, declared);
      if (declared == kDeflatedExplicitLittleEndian)
        return fail(ErrorCode::Malformed,
                    "deflated object whose File Meta Information does not walk cleanly");
      file.clear();
    }
    // Reading every element, with large values skipped rather than loaded, finds a truncated
    // object (an element running past the end) without the cost of loading pixel data.
    const OFCondition c = codecs::load_file(file, path.c_str(), kMaxLoadedValue, ERM_fileOnly);
    if (c.bad()) return fail(ErrorCode::Malformed, std::string("cannot parse object: ") + c.text());
  }
  OFString syntax;
  file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, syntax);
  auto entry = index_entry_from(*file.getDataset(), syntax.c_str());
  if (!entry) return tl::unexpected(entry.error());
  if (announced) {
    if (announced->sop_class_uid != entry->instance.sop_class_uid.str())
      return fail(ErrorCode::InvalidObject, "SOP Class UID in the command (" +
                                                announced->sop_class_uid + ") and dataset (" +
                                                entry->instance.sop_class_uid.str() + ") differ");
    if (announced->sop_instance_uid != entry->instance.sop_instance_uid.str())
      return fail(ErrorCode::InvalidObject,
                  "SOP Instance UID in the command (" + announced->sop_instance_uid +
                      ") and dataset (" + entry->instance.sop_instance_uid.str() + ") differ");
  }
  return ParsedObject{
      std::move(*entry), size,
      destinations_for(routes, announced ? announced->calling_aet : "", *file.getDataset())};
}

namespace {

std::optional<std::streamoff> dataset_offset(std::ifstream& in) {
  unsigned char head[kPart10HeadBytes];
  if (!in.read(reinterpret_cast<char*>(head), sizeof head)) return std::nullopt;
  const auto offset = part10_dataset_offset(head);
  if (!offset) return std::nullopt;
  return static_cast<std::streamoff>(*offset);
}

// Same dataset bytes? The meta headers may differ (source AE, implementation); the data may not.
bool same_dataset(const fs::path& a, const fs::path& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  auto oa = dataset_offset(fa), ob = dataset_offset(fb);
  if (!oa || !ob) return false;
  std::error_code ec1, ec2;
  if (fs::file_size(a, ec1) - *oa != fs::file_size(b, ec2) - *ob || ec1 || ec2) return false;
  fa.seekg(*oa);
  fb.seekg(*ob);
  std::vector<char> ba(1 << 16), bb(1 << 16);
  while (fa && fb) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount() || !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin()))
      return false;
  }
  return true;
}

}  // namespace

bool parse_duplicate_policy(std::string_view text, DuplicatePolicy& out) {
  if (text == "keep")
    out = DuplicatePolicy::Keep;
  else if (text == "overwrite")
    out = DuplicatePolicy::Overwrite;
  else if (text == "reject")
    out = DuplicatePolicy::Reject;
  else
    return false;
  return true;
}

const char* to_string(IngestOutcome outcome) {
  switch (outcome) {
    case IngestOutcome::Stored:
      return "stored";
    case IngestOutcome::Replaced:
      return "replaced";
    case IngestOutcome::IdenticalResend:
      return "identical re-send";
    case IngestOutcome::KeptExisting:
      return "duplicate kept existing";
  }
  return "?";
}

IngestService::IngestService(BlobStore& blobs, Index& index, GroupCommitter& committer,
                             DuplicatePolicy policy, std::vector<RouteRule> routes,
                             std::function<void()> forwarding_queued, std::uint64_t min_free_bytes,
                             std::string store_as)
    : blobs_(blobs),
      index_(index),
      committer_(committer),
      policy_(policy),
      routes_(std::make_shared<const std::vector<RouteRule>>(std::move(routes))),
      forwarding_queued_(std::move(forwarding_queued)),
      min_free_bytes_(min_free_bytes),
      store_as_(std::move(store_as)) {}

std::shared_ptr<const std::vector<RouteRule>> IngestService::routes() const {
  std::lock_guard lock(routes_mu_);
  return routes_;
}

void IngestService::set_routes(std::vector<RouteRule> routes) {
  auto fresh = std::make_shared<const std::vector<RouteRule>>(std::move(routes));
  std::lock_guard lock(routes_mu_);
  routes_ = std::move(fresh);
}

Result<void> IngestService::check_room() const {
  if (min_free_bytes_ == 0) return {};
  const auto free = blobs_.free_bytes();
  if (!free || *free >= min_free_bytes_) return {};
  // Short: a C-STORE carries it as its Error Comment (64 characters).
  return fail(ErrorCode::StorageFull, "data disk full (" + std::to_string(*free >> 20) +
                                          " MB free, " + std::to_string(min_free_bytes_ >> 20) +
                                          " MB kept free)");
}

namespace {

// Objects taken in, by outcome, and the bytes of the new ones (metrics on /metrics).
void count_outcome(IngestOutcome outcome, std::uint64_t size_bytes) {
  static auto& stored = metrics::registry().counter(
      "pacsnode_instances_received_total", "Objects received (C-STORE, STOW-RS, import) by outcome",
      {{"outcome", "stored"}});
  static auto& replaced = metrics::registry().counter("pacsnode_instances_received_total", "",
                                                      {{"outcome", "replaced"}});
  static auto& resent = metrics::registry().counter("pacsnode_instances_received_total", "",
                                                    {{"outcome", "identical_resend"}});
  static auto& kept = metrics::registry().counter("pacsnode_instances_received_total", "",
                                                  {{"outcome", "kept_existing"}});
  static auto& bytes = metrics::registry().counter("pacsnode_stored_bytes_total",
                                                   "Bytes of the objects stored or replaced");
  switch (outcome) {
    case IngestOutcome::Stored:
      stored.add();
      bytes.add(static_cast<double>(size_bytes));
      break;
    case IngestOutcome::Replaced:
      replaced.add();
      bytes.add(static_cast<double>(size_bytes));
      break;
    case IngestOutcome::IdenticalResend:
      resent.add();
      break;
    case IngestOutcome::KeptExisting:
      kept.add();
      break;
  }
}

}  // namespace

Result<Stored> IngestService::ingest(TempFile file, const std::optional<Announced>& announced) {
  auto refused = [](const Error& error) {
    metrics::registry()
        .counter("pacsnode_instances_refused_total", "Objects refused at ingest, by reason",
                 {{"reason", to_string(error.code)}})
        .add();
    return tl::unexpected(error);
  };
  auto result = ingest_counted(std::move(file), announced);
  if (!result) return refused(result.error());
  // What a stored object does beyond being stored (a rejection note rejects), before the sender
  // hears it was stored; a resend does it again, so a failure here is mended by the retry.
  if (after_store_ && !result->relative_path.empty()) {
    if (auto done = after_store_(blobs_.absolute(result->relative_path), *result,
                                 announced ? announced->calling_aet : std::string());
        !done)
      return refused(done.error());
  }
  return result;
}

Result<Stored> IngestService::ingest_counted(TempFile file,
                                             const std::optional<Announced>& announced) {
  if (auto room = check_room(); !room) return tl::unexpected(room.error());
  std::shared_ptr<const std::vector<RouteRule>> routes;
  {
    std::lock_guard lock(routes_mu_);
    routes = routes_;
  }
  auto parsed = parse_received(file.path(), announced, *routes);
  if (!parsed) return tl::unexpected(parsed.error());
  std::optional<TempFile> converted = rewritten_for_storage(
      file, parsed->entry.instance.transfer_syntax, default_issuer_for(*parsed, announced));
  if (converted) {
    parsed = parse_received(converted->path(), announced, *routes);
    if (!parsed) return tl::unexpected(parsed.error());
  }
  TempFile& kept = converted ? *converted : file;
  IndexEntry& entry = parsed->entry;
  const std::string sop = entry.instance.sop_instance_uid.str();
  const std::string study = entry.study.study_uid.str();
  const std::uint64_t size_bytes = parsed->size_bytes;
  const std::string sop_class = entry.instance.sop_class_uid.str();
  const std::string patient_id = entry.patient.patient_id;
  auto done = [&](IngestOutcome outcome, const std::string& stored_at = {}) {
    count_outcome(outcome, size_bytes);
    return Stored{outcome, sop, study, sop_class, patient_id, stored_at};
  };

  // A known SOP Instance UID: the same bytes again is a no-op; otherwise the policy decides.
  // The check runs again inside the index transaction, where a concurrent arrival is caught.
  auto existing = index_.find_instance(sop);
  if (!existing) return tl::unexpected(existing.error());
  bool replace = false;
  if (*existing) {
    if (same_dataset(kept.path(), blobs_.absolute((*existing)->relative_path)))
      return done(IngestOutcome::IdenticalResend, (*existing)->relative_path);
    if (policy_ == DuplicatePolicy::Reject)
      return fail(ErrorCode::Duplicate, "duplicate SOP Instance UID " + sop + " refused by policy");
    if (policy_ == DuplicatePolicy::Keep) return done(IngestOutcome::KeptExisting);
    replace = true;
  }

  // Read back from the page cache the parse just filled: the checksum records what is acknowledged.
  auto checksum = file_checksum(kept.path());
  if (!checksum) return tl::unexpected(checksum.error());
  auto placed = blobs_.place(kept, entry.study.study_uid, entry.series.series_uid,
                             entry.instance.sop_instance_uid);
  if (!placed) return tl::unexpected(placed.error());
  entry.instance.relative_path = *placed;
  entry.instance.size_bytes = parsed->size_bytes;
  entry.instance.checksum = std::move(*checksum);

  // The file's sync and the index commit (with the sync of the file's directory entry) are the
  // waits of every C-STORE; they run side by side and the caller acknowledges only after both. A
  // crash between them can leave an index row whose file is not durable, for an object that was
  // never acknowledged: recover_after_crash() finds and drops such rows at the next start.
  const bool forwarded = !parsed->forward_to.empty();
  auto commit =
      committer_.submit(IndexWrite{std::move(entry), replace, std::move(parsed->forward_to)});
  auto durable = blobs_.sync_file(*placed);
  auto written = commit.get();
  if (!written) {
    blobs_.remove(*placed);
    return tl::unexpected(written.error());
  }
  if (!durable) {
    if (written->outcome != WriteOutcome::AlreadyExists) {
      if (auto forgot = index_.forget_instance(sop, *placed); !forgot)
        PACS_LOG(Error) << "index row of " << sop
                        << " points to an unsynced file: " << forgot.error().message;
    }
    blobs_.remove(*placed);
    return tl::unexpected(durable.error());
  }
  if (forwarded && written->outcome != WriteOutcome::AlreadyExists && forwarding_queued_)
    forwarding_queued_();
  switch (written->outcome) {
    case WriteOutcome::Inserted:
      return done(IngestOutcome::Stored, *placed);
    case WriteOutcome::Replaced:
      if (written->replaced_path != *placed) blobs_.remove(written->replaced_path);
      return done(IngestOutcome::Replaced, *placed);
    case WriteOutcome::AlreadyExists:
      // Another association indexed this SOP instance between our check and our commit.
      blobs_.remove(*placed);
      if (policy_ == DuplicatePolicy::Reject)
        return fail(ErrorCode::Duplicate,
                    "duplicate SOP Instance UID " + sop + " refused by policy");
      return done(IngestOutcome::KeptExisting);
  }
  return done(IngestOutcome::Stored, *placed);
}

std::string IngestService::default_issuer_for(const ParsedObject& parsed,
                                              const std::optional<Announced>& announced) const {
  const PatientRecord& patient = parsed.entry.patient;
  if (!announced || patient.patient_id.empty() || !patient.issuer_of_patient_id.empty()) return {};
  const auto found = default_issuers_.find(announced->calling_aet);
  return found == default_issuers_.end() ? std::string() : found->second;
}

std::optional<TempFile> IngestService::rewritten_for_storage(const TempFile& arrived,
                                                             const std::string& arrived_syntax,
                                                             const std::string& default_issuer) {
  const bool compress =
      !store_as_.empty() && arrived_syntax != store_as_ && can_produce(arrived_syntax, store_as_);
  if (!compress && default_issuer.empty()) return std::nullopt;
  DcmFileFormat ff;
  if (codecs::load_file(ff, arrived.path().c_str()).bad()) return std::nullopt;
  DcmDataset& dataset = *ff.getDataset();
  std::string sop;
  if (const char* uid = nullptr;
      dataset.findAndGetString(DCM_SOPInstanceUID, uid).good() && uid != nullptr)
    sop = uid;
  std::string syntax = arrived_syntax;
  if (!default_issuer.empty()) {
    PatientValues issuer;
    issuer.issuer_of_patient_id = default_issuer;
    coerce_patient(dataset, issuer, "COERCE");
  }
  // Only images compress.
  if (compress && dataset.tagExists(DCM_PixelData)) {
    if (auto done = convert(dataset, arrived_syntax, store_as_); done)
      syntax = store_as_;
    else
      PACS_LOG(Warn) << sop << " stored as it arrived (" << arrived_syntax
                     << "), not as the storage policy's " << store_as_ << ": "
                     << done.error().message;
  }
  if (syntax == arrived_syntax && default_issuer.empty()) return std::nullopt;
  TempFile out = new_temp_file();
  if (OFCondition c = ff.saveFile(out.path().c_str(), DcmXfer(syntax.c_str()).getXfer()); c.bad()) {
    PACS_LOG(Warn) << sop << " stored as it arrived: writing it as " << syntax
                   << " failed: " << c.text();
    return std::nullopt;
  }
  return out;
}

Result<Stored> IngestService::ingest_copy(const fs::path& source) {
  TempFile temp = new_temp_file();
  std::ifstream probe(source, std::ios::binary);
  char magic[132] = {};
  probe.read(magic, sizeof magic);
  if (!probe) return fail(ErrorCode::Malformed, "not a DICOM file (too short)");
  if (std::string_view(magic + 128, 4) == "DICM") {
    std::error_code ec;
    fs::copy_file(source, temp.path(), ec);
    if (ec) return fail(ErrorCode::StorageFailure, "cannot copy: " + ec.message());
  } else {
    // A bare dataset: store it as a Part 10 file, in the transfer syntax it was read in.
    DcmFileFormat file;
    if (OFCondition c = codecs::load_bounded(file, source.c_str(), DCM_MaxReadLength, ERM_dataset);
        c.bad())
      return fail(ErrorCode::Malformed, std::string("not a DICOM file: ") + c.text());
    const E_TransferSyntax xfer = file.getDataset()->getOriginalXfer();
    if (OFCondition c = file.saveFile(temp.path().c_str(), xfer); c.bad())
      return fail(ErrorCode::InvalidObject, std::string("cannot convert to Part 10: ") + c.text());
  }
  return ingest(std::move(temp), std::nullopt);
}

}  // namespace pacs
