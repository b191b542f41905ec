// The storage and services one node process runs on, opened from its configuration.
#pragma once

#include <functional>
#include <memory>

#include "pacsnode/app/config.h"
#include "pacsnode/services/group_commit.h"
#include "pacsnode/services/ingest.h"
#include "pacsnode/services/rejection.h"
#include "pacsnode/services/removal.h"
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
};

// Opens the data directory and the index (applying migrations). Errors are one line, for humans.
// forwarding_queued is called after ingest queued an instance for forwarding.
Result<Node> open_node(const Config& config, std::function<void()> forwarding_queued = {});

// Where the node's audit trail goes: --audit-log (DATA/audit.log by default) and --audit-syslog.
audit::TrailSettings audit_trail_settings(const Config& config, const BlobStore& blobs);

}  // namespace pacs
