// The one ingest path: C-STORE, `pacsnode import` (and later STOW-RS) all store through it.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pacsnode/services/group_commit.h"
#include "pacsnode/services/routing.h"
#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

enum class DuplicatePolicy { Keep, Overwrite, Reject };
bool parse_duplicate_policy(std::string_view text, DuplicatePolicy& out);

enum class IngestOutcome {
  Stored,           // new instance
  Replaced,         // overwrite policy: the new object replaced the old one
  IdenticalResend,  // the same bytes again: nothing to do
  KeptExisting,     // keep policy: a different object under a known SOP Instance UID was ignored
};
const char* to_string(IngestOutcome outcome);

// What the protocol said the object is (C-STORE command fields, checked against the dataset),
// and who sent it (for routing rules).
struct Announced {
  std::string sop_class_uid;
  std::string sop_instance_uid;
  std::string calling_aet;
};

// A received object as read and checked, before it is stored.
struct ParsedObject {
  IndexEntry entry;
  std::uint64_t size_bytes = 0;
  std::vector<std::string> forward_to;
};

// Reads a received Part 10 file (the values up to 4 KB; larger ones stay on disk, but every element
// is walked, so a truncated object fails) and checks it against what the protocol announced:
// Malformed, InvalidObject, or the index entry and the route destinations. ingest() starts here;
// the Part 10 fuzz target calls it too.
Result<ParsedObject> parse_received(const std::filesystem::path& path,
                                    const std::optional<Announced>& announced,
                                    const std::vector<RouteRule>& routes);

struct Stored {
  IngestOutcome outcome;
  std::string sop_instance_uid;
  std::string study_uid;
  std::string sop_class_uid, patient_id;  // for the audit trail
  std::string relative_path;              // the stored file (empty when nothing was stored)
};

// Run on every object stored (or resent identical) before ingest returns: the file, what was
// stored, and the sender's AE title ("" over HTTP or import). An error fails the ingest.
using AfterStore = std::function<Result<void>(const std::filesystem::path& file,
                                              const Stored& stored, const std::string& sender)>;

class IngestService {
 public:
  // min_free_bytes: the space kept free on the data disk; below it new objects are refused
  // (StorageFull) rather than let the disk fill mid-object, which would leave the index (when it
  // shares the disk) and the other faces without room.
  // store_as: a transfer syntax every image is stored in (a storage policy, e.g. JPEG 2000
  // lossless); empty: objects are stored as they arrive.
  IngestService(BlobStore& blobs, Index& index, GroupCommitter& committer, DuplicatePolicy policy,
                std::vector<RouteRule> routes = {}, std::function<void()> forwarding_queued = {},
                std::uint64_t min_free_bytes = 0, std::string store_as = {});

  // Where a face writes an arriving object before handing it to ingest().
  TempFile new_temp_file() { return blobs_.new_temp_file(); }

  // StorageFull when the data disk is below its reserve: a face asks before it receives an
  // object, so that it can refuse it properly instead of failing halfway through writing it.
  Result<void> check_room() const;

  // Validates a complete Part 10 file, places it durably in the blob store and commits it to the
  // index. Returns only after both are durable, or with an error that left nothing behind.
  Result<Stored> ingest(TempFile file, const std::optional<Announced>& announced);

  // Set once, before the faces start.
  void set_after_store(AfterStore after_store) { after_store_ = std::move(after_store); }
  // Calling AE title -> the Issuer of Patient ID its objects get when they carry a Patient ID
  // without one (recorded in Original Attributes Sequence). Set once, before the faces start.
  void set_default_issuers(std::map<std::string, std::string> by_calling_aet) {
    default_issuers_ = std::move(by_calling_aet);
  }

  // New store-and-forward rules, for the objects that arrive from now on.
  void set_routes(std::vector<RouteRule> routes);
  std::shared_ptr<const std::vector<RouteRule>> routes() const;  // the current set

  // Copies a file from outside the store (import); files without a meta header are given one.
  Result<Stored> ingest_copy(const std::filesystem::path& source);

 private:
  Result<Stored> ingest_counted(TempFile file, const std::optional<Announced>& announced);
  // The issuer an arrived object gets: its calling AE's default when it names a patient without
  // one; "" when it keeps what it has.
  std::string default_issuer_for(const ParsedObject& parsed,
                                 const std::optional<Announced>& announced) const;
  // The arrived object rewritten for storage: with the default issuer (when not ""), and in the
  // store_as syntax when the policy applies to it and its pixel data converts; nullopt to keep it
  // as it arrived (never lose an image for want of a rewrite).
  std::optional<TempFile> rewritten_for_storage(const TempFile& arrived,
                                                const std::string& arrived_syntax,
                                                const std::string& default_issuer);
  BlobStore& blobs_;
  Index& index_;
  GroupCommitter& committer_;
  DuplicatePolicy policy_;
  // Replaced whole on a configuration reload; each ingest takes the current set.
  mutable std::mutex routes_mu_;
  std::shared_ptr<const std::vector<RouteRule>> routes_;  // guarded by routes_mu_
  std::function<void()> forwarding_queued_;
  std::uint64_t min_free_bytes_;
  std::string store_as_;
  AfterStore after_store_;
  std::map<std::string, std::string> default_issuers_;
};

}  // namespace pacs
