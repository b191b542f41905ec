#include "pacsnode/app/node.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcuid.h>

#include "pacsnode/services/transcode.h"

namespace pacs {

Result<Node> open_node(const Config& config, std::function<void()> forwarding_queued) {
  if (!config.store_as.empty() &&
      !can_produce(UID_LittleEndianExplicitTransferSyntax, config.store_as))
    return fail(ErrorCode::InvalidArgument,
                "--store-as " + config.store_as + ": no codec writes that transfer syntax");
  Node node;
  auto blobs = BlobStore::open(config.data_dir, config.always_sync_directories);
  if (!blobs) return tl::unexpected(blobs.error());
  node.blobs = std::move(*blobs);
  auto index = Index::open(config.db, config.data_dir, config.workflow, config.db_replica);
  if (!index) return tl::unexpected(index.error());
  node.index = std::move(*index);
  node.committer = std::make_unique<GroupCommitter>(*node.index, *node.blobs);
  node.ingest = std::make_unique<IngestService>(
      *node.blobs, *node.index, *node.committer, config.duplicate_policy, config.routes,
      std::move(forwarding_queued), config.min_free_mb << 20, config.store_as);
  node.ingest->set_default_issuers(config.default_issuer_by_aet);
  node.remover = std::make_unique<Remover>(*node.index, *node.blobs, config.aet);
  node.retention =
      std::make_unique<Retention>(*node.index, *node.remover, *node.blobs, config.retention);
  node.rejections = std::make_unique<RejectionNotes>(
      *node.remover, std::chrono::seconds(config.rejection_grace_seconds));
  node.ingest->set_after_store(
      [rejections = node.rejections.get()](const std::filesystem::path& file, const Stored& stored,
                                           const std::string& sender) {
        return rejections->apply(file, stored.sop_class_uid,
                                 sender.empty() ? "STOW-RS or import" : sender);
      });
  return node;
}

Result<std::unique_ptr<InstalledAuditTrail>> InstalledAuditTrail::open(const Config& config,
                                                                       const BlobStore& blobs) {
  auto trail = audit::Trail::open(
      {config.audit_log.empty() ? (blobs.root() / "audit.log").string() : config.audit_log,
       config.audit_syslog, config.tls, config.aet});
  if (!trail) return tl::unexpected(trail.error());
  audit::install(trail->get());
  return std::unique_ptr<InstalledAuditTrail>(new InstalledAuditTrail(std::move(*trail)));
}

Result<AuditedNode> open_audited_node(const Config& config) {
  auto node = open_node(config);
  if (!node) return tl::unexpected(node.error());
  auto trail = InstalledAuditTrail::open(config, *node->blobs);
  if (!trail) return tl::unexpected(trail.error());
  return AuditedNode{std::move(*node), std::move(*trail)};
}

}  // namespace pacs
