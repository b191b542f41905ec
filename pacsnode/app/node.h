// The storage and services one node process runs on, opened from its configuration.
#pragma once

#include <functional>
#include <memory>

#include "pacsnode/app/config.h"
#include "pacsnode/services/group_commit.h"
#include "pacsnode/services/ingest.h"
#include "pacsnode/services/rejection.h"
#include "pacsnode/services/removal.h"
#include "pacsnode/services/retention.h"
#include "security/audit_trail.h"
#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

struct Node {
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<Index> index;
  std::unique_ptr<GroupCommitter> committer;
  std::unique_ptr<IngestService> ingest;
  std::unique_ptr<Remover> remover;
  std::unique_ptr<RejectionNotes> rejections;  // applied by ingest as notes are stored
  std::unique_ptr<Retention> retention;
};

// Opens the data directory and the index (applying migrations). Errors are one line, for humans.
// forwarding_queued is called after ingest queued an instance for forwarding.
Result<Node> open_node(const Config& config, std::function<void()> forwarding_queued = {});

// The node's audit trail (--audit-log, DATA/audit.log by default, and --audit-syslog), installed
// for every face to record into until this goes (then what is queued is written).
class InstalledAuditTrail {
 public:
  static Result<std::unique_ptr<InstalledAuditTrail>> open(const Config& config,
                                                           const BlobStore& blobs);
  ~InstalledAuditTrail() { audit::install(nullptr); }

 private:
  explicit InstalledAuditTrail(std::unique_ptr<audit::Trail> trail) : trail_(std::move(trail)) {}
  std::unique_ptr<audit::Trail> trail_;
};

// A node opened for a one-shot command that changes stored data (delete, retention), with the
// audit trail installed until it goes.
struct AuditedNode {
  Node node;
  std::unique_ptr<InstalledAuditTrail> trail;  // declared last: uninstalled first
};
Result<AuditedNode> open_audited_node(const Config& config);

}  // namespace pacs
