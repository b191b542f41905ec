// The storage and services one node process runs on, opened from its configuration.
#pragma once

#include <functional>
#include <memory>

#include "pacsnode/app/config.h"
#include "pacsnode/services/group_commit.h"
#include "pacsnode/services/ingest.h"
#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

struct Node {
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<Index> index;
  std::unique_ptr<GroupCommitter> committer;
  std::unique_ptr<IngestService> ingest;
};

// Opens the data directory and the index (applying migrations). Errors are one line, for humans.
// forwarding_queued is called after ingest queued an instance for forwarding.
Result<Node> open_node(const Config& config, std::function<void()> forwarding_queued = {});

}  // namespace pacs
