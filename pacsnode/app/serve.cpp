#include "pacsnode/app/serve.h"

#include <signal.h>
#include <sys/statvfs.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "dicomweb/access_gate.h"
#include "dicomweb/admin_api.h"
#include "dicomweb/hl7_messages_api.h"
#include "dicomweb/http_server.h"
#include "dicomweb/operations.h"
#include "dicomweb/patients_api.h"
#include "dicomweb/reconciliation_api.h"
#include "dicomweb/service.h"
#include "dicomweb/ui_service.h"
#include "dicomweb/workflow_api.h"
#include "fhir/fhir_api.h"
#include "hl7bridge/hl7_service.h"
#include "hl7bridge/mllp_server.h"
#include "hl7bridge/outbox.h"
#include "pacsnode/app/node.h"
#include "pacsnode/dimse/peer_directory.h"
#include "pacsnode/dimse/server.h"
#include "pacsnode/dimse/tls_layer.h"
#include "pacsnode/services/commitment.h"
#include "pacsnode/services/deidentified_export.h"
#include "pacsnode/services/forwarder.h"
#include "pacsnode/services/lease_keeper.h"
#include "pacsnode/services/mpps.h"
#include "pacsnode/services/recovery.h"
#include "pacsnode/services/reports.h"
#include "security/audit_trail.h"
#include "storage/data_dir_lock.h"
#include "storage/model/log.h"
#include "storage/model/metrics.h"

namespace pacs {

namespace {

void count_http_request(std::string_view method, std::string_view target, unsigned status,
                        double seconds) {
  const std::string route = web::route_of(target);
  // Methods as labels only where the face serves them: the label set must stay small.
  static const std::set<std::string_view> served = {"GET", "HEAD", "POST", "OPTIONS"};
  const std::string verb = served.count(method) ? std::string(method) : "other";
  auto& registry = metrics::registry();
  registry
      .counter("pacsnode_http_requests_total", "HTTP requests answered, by route, method, status",
               {{"route", route}, {"method", verb}, {"status", std::to_string(status)}})
      .add();
  registry
      .histogram("pacsnode_http_request_duration_seconds",
                 "HTTP request latency, from its header to the end of its answer",
                 {{"route", route}})
      .observe(seconds);
}

// Queue depths, the age of the oldest pending item, and the data disk's free space, read from the
// index and the filesystem when /metrics is scraped.
void watch_queues_and_disk(Index& index, const std::string& data_dir) {
  metrics::registry().on_scrape([&index, data_dir](metrics::Registry& registry) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const auto forwarding = index.queue_counts();
    const auto hl7 = index.outbox_counts();
    const auto oldest = index.oldest_pending_ms();
    const std::pair<const char*, const Result<std::map<std::string, std::int64_t>>*> queues[] = {
        {"forwarding", &forwarding}, {"hl7", &hl7}};
    for (auto [queue, counts] : queues) {
      if (!*counts) continue;  // the index is away: the values stay as last read
      for (const char* state : {"pending", "sent", "failed"}) {
        const auto it = (*counts)->find(state);
        registry
            .gauge("pacsnode_queue_items", "Items of the outbound queues, by queue and state",
                   {{"queue", queue}, {"state", state}})
            .set(it == (*counts)->end() ? 0 : static_cast<double>(it->second));
      }
      if (!oldest) continue;
      const auto since = oldest->find(queue);
      registry
          .gauge("pacsnode_queue_oldest_pending_age_seconds",
                 "Age of the oldest pending item of each outbound queue (0: none pending)",
                 {{"queue", queue}})
          .set(since == oldest->end() ? 0 : static_cast<double>(now_ms - since->second) / 1000);
    }
    struct statvfs disk {};
    if (::statvfs(data_dir.c_str(), &disk) == 0)
      registry.gauge("pacsnode_storage_free_bytes", "Free space on the data directory's disk")
          .set(static_cast<double>(disk.f_bavail) * static_cast<double>(disk.f_frsize));
  });
}

// The peers of a configuration, those named for TLS reached through `tls`.
std::map<std::string, dimse::RemoteAe> peers_of(const Config& config, const dimse::TlsLayer& tls) {
  std::map<std::string, dimse::RemoteAe> peers;
  for (const auto& [aet, peer] : config.peers)
    peers[aet] = {peer.host, peer.port, config.tls_peers.count(aet) ? tls : nullptr};
  return peers;
}

}  // namespace

int serve(const Config& config, const std::function<Result<Config>()>& reread) {
  // Signals are taken by one thread with sigwait, so block them before any other thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);  // reload peers and routing rules
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (auto ok = check_config(config); !ok) {
    PACS_LOG(Error) << ok.error().message;
    return 2;
  }
  // HTTP authentication, when configured: a JWKS that cannot be read stops the start here.
  std::unique_ptr<security::Authenticator> authenticator;
  if (config.http_auth.configured()) {
    auto created = security::Authenticator::create(config.http_auth);
    if (!created) {
      PACS_LOG(Error) << "HTTP authentication: " << created.error().message;
      return 2;
    }
    authenticator = std::move(*created);
  }
  // Held while the node runs, so that `pacsnode fsck` does not check a store being written;
  // exclusive through recovery when the node is alone on the directory, shared after.
  auto in_use = DataDirLock::acquire_for_serving(config.data_dir, std::chrono::minutes(2));
  if (!in_use) {
    PACS_LOG(Error) << in_use.error().message;
    return 1;
  }
  auto own_name = DataDirLock::acquire_node_name(config.data_dir, config.claims.node);
  if (!own_name) {
    PACS_LOG(Error) << own_name.error().message;
    return 1;
  }
  // The forwarder starts after the node is open; until then nothing can be queued.
  std::atomic<Forwarder*> forwarder_ready{nullptr};
  auto node = open_node(config, [&forwarder_ready] {
    if (Forwarder* f = forwarder_ready.load()) f->wake();
  });
  if (!node) {
    PACS_LOG(Error) << node.error().message;
    return 1;
  }
  // The audit trail, from here to the end of serve(): every face records into it.
  auto trail = InstalledAuditTrail::open(config, *node->blobs);
  if (!trail) {
    PACS_LOG(Error) << trail.error().message;
    return 2;
  }
  // A marker that exists while the node runs: found at start, it means the node's last run did
  // not stop cleanly, and the newest index rows are checked against their files. Files without a
  // row are swept only by a node alone on the store: another node's files look the same between
  // being placed and being indexed.
  const std::filesystem::path marker =
      node->blobs->root() / "nodes" / (config.claims.node + ".running");
  // Before node names, one marker stood for the one node a directory had.
  const std::filesystem::path unnamed_marker = node->blobs->root() / "pacsnode.running";
  if (std::filesystem::exists(marker) || std::filesystem::exists(unnamed_marker)) {
    auto report = recover_after_unclean_stop(*node->blobs, *node->index, in_use->exclusive());
    if (!report) {
      PACS_LOG(Error) << "recovery after an unclean stop failed: " << report.error().message;
      return 1;
    }
    PACS_LOG(Info) << "recovery after an unclean stop: checked the newest " << report->checked
                   << " instances, dropped " << report->dropped << " rows without a file, "
                   << (in_use->exclusive() ? "removed " + std::to_string(report->orphans_removed) +
                                                 " files without a row"
                                           : "left files without a row to pacsnode fsck (other "
                                             "nodes use the store)");
  }
  std::ofstream(marker).put('\n');
  std::error_code ignored;  // absent, most likely
  std::filesystem::remove(unnamed_marker, ignored);
  // What this node's name held when it last stopped is due again now, not when its lease lapses.
  release_claims(*node->index, config.claims.node);
  if (auto shared = in_use->share(); !shared) {
    PACS_LOG(Error) << shared.error().message;
    return 1;
  }
  // Files of removed instances: those a crash left queued, then each rejection's as its grace
  // period ends.
  node->remover->purge_in_background(std::chrono::seconds(30));
  if (config.retention.any())
    node->retention->run_in_background(std::chrono::seconds(config.retention_interval_seconds));
  auto counts = node->index->counts();
  PACS_LOG(Info) << "pacsnode: data in " << node->blobs->root().string() << ", index "
                 << node->index->describe() << " (schema v" << node->index->schema_version() << ", "
                 << (counts ? counts->instances : -1) << " instances)";

  QueryService query(*node->index, config.aet, config.max_find_results);
  RetrieveService retrieve(query, *node->index, *node->blobs);
  // Outbound HL7: procedure status and complete studies to the configured RIS/EHR endpoints.
  std::vector<std::string> hl7_destinations;
  for (const auto& [name, peer] : config.hl7_destinations) hl7_destinations.push_back(name);
  MppsService mpps(*node->index, hl7_destinations);
  CommitmentService commitment(*node->index, *node->blobs);
  // OpenSSL contexts: the MLLP and HTTPS listeners', and one for HL7 destinations over TLS.
  security::SslContext mllp_tls, hl7_outbound_tls, https;
  for (auto [wanted, context, server] :
       {std::tuple{config.mllp_tls, &mllp_tls, true}, std::tuple{config.http_tls, &https, true},
        std::tuple{!config.tls_hl7_destinations.empty(), &hl7_outbound_tls, false}}) {
    if (!wanted) continue;
    auto made = server ? security::make_server_context(config.tls)
                       : security::make_client_context(config.tls);
    if (!made) {
      PACS_LOG(Error) << "TLS: " << made.error().message;
      return 2;
    }
    *context = std::move(*made);
  }
  // Made before the workers that claim work (outbox, forwarder), so it goes after they stopped: on
  // a graceful stop, what this node claimed and did not attempt is due for the other nodes at once
  // rather than when its lease lapses.
  const ReleaseClaimsAtStop release_at_stop{*node->index, config.claims.node};
  std::unique_ptr<hl7::Outbox> outbox;
  if (!config.hl7_destinations.empty()) {
    hl7::OutboxOptions options;
    for (const auto& [name, peer] : config.hl7_destinations)
      options.destinations[name] = {
          peer.host, peer.port,
          config.tls_hl7_destinations.count(name) ? hl7_outbound_tls : nullptr};
    options.study_quiet_period = std::chrono::seconds(config.study_quiet_seconds);
    options.max_attempts = config.hl7_outbox_max_attempts;
    const std::string root = config.public_url.empty()
                                 ? std::string(config.http_tls ? "https" : "http") +
                                       "://127.0.0.1:" + std::to_string(config.http_port)
                                 : config.public_url;
    options.messages.dicomweb_root = root + "/dicom-web";
    options.messages.viewer_url =
        config.viewer_url.empty() ? web::viewer_launch_template(root) : config.viewer_url;
    options.messages.study_complete_as_orm = config.study_complete_as_orm;
    options.claims = config.claims;
    outbox = std::make_unique<hl7::Outbox>(*node->index, std::move(options));
  }
  // DIMSE over TLS: one layer for the listener, one for the peers reached over TLS.
  dimse::TlsLayer dimse_tls, outbound_tls;
  if (config.dimse_tls) {
    auto layer = dimse::make_tls_layer(config.tls, true);
    if (!layer) {
      PACS_LOG(Error) << layer.error().message;
      return 2;
    }
    dimse_tls = std::move(*layer);
  }
  if (!config.tls_peers.empty()) {
    auto layer = dimse::make_tls_layer(config.tls, false);
    if (!layer) {
      PACS_LOG(Error) << layer.error().message;
      return 2;
    }
    outbound_tls = std::move(*layer);
  }
  const auto peers = std::make_shared<dimse::PeerDirectory>(peers_of(config, outbound_tls));
  // De-identified exports and retrievals share one key, so pseudonyms agree across both.
  auto deidentifier = deid::Deidentifier::open(config.data_dir);
  if (!deidentifier) {
    PACS_LOG(Error) << "de-identification: " << deidentifier.error().message;
    return 1;
  }
  const auto shared_deidentifier = std::make_shared<const deid::Deidentifier>(*deidentifier);
  ForwardPolicy forward_policy = config.forwarding;
  forward_policy.claims = config.claims;
  Forwarder forwarder(
      *node->index, *node->blobs,
      deidentifying(
          [&](const std::string& destination, const std::vector<RetrieveItem>& items,
              std::string& error) {
            const auto peer = peers->find(destination);
            std::vector<std::string> failed;
            if (!peer) {
              error = "destination " + destination + " is not a configured peer (--peer)";
              for (const auto& item : items) failed.push_back(item.sop_instance_uid);
              return failed;
            }
            const dimse::SendRequest request{config.aet, destination, *peer, "", 0, 60};
            auto counts = dimse::send_instances(request, items,
                                                [](const dimse::SubOperations&) { return true; });
            error = counts.error;
            return counts.failed_sop_instances;
          },
          [&node](const std::string& destination) {
            return deidentification_for(*node->ingest->routes(), destination);
          },
          shared_deidentifier, *node->blobs, config.aet),
      forward_policy);
  forwarder_ready = &forwarder;
  // Claims on forwarding and outbound HL7 stay this node's while it lives.
  LeaseKeeper leases(*node->index, config.claims);
  dimse::AccessPolicy access;
  for (const auto& aet : config.allowed_calling_aets)
    access.permit(aet, {*dimse::parse_services("all"), {}});
  for (const auto& text : config.ae_permissions) {
    auto permission = dimse::parse_ae_permission(text);  // checked when the config was read
    if (permission) access.permit(permission->first, permission->second);
  }
  if (config.unknown_aes_allowed) access.set_unknown_aes_allowed(*config.unknown_aes_allowed);
  dimse::DimseServer dimse(
      {.aet = config.aet,
       .port = config.dimse_port,
       .max_associations = config.max_associations,
       .access = access,
       .accept_unknown_sop_classes = config.accept_unknown_sop_classes,
       .timeout_seconds = 60,
       .peers = peers,
       .commitment_report = config.commitment_report == "new" ? dimse::CommitmentReportMode::New
                                                              : dimse::CommitmentReportMode::Same,
       .tls = dimse_tls},
      *node->ingest, query, retrieve, mpps, commitment);
  // The DICOMweb face; beyond loopback only with authentication (check_config).
  web::DicomWebService dicomweb(
      {query, retrieve, *node->ingest, "/dicom-web", config.aet, shared_deidentifier.get()});
  // What the HL7 face does with a message (before the HTTP face, which replays dead letters).
  hl7::Hl7Options hl7_options;
  hl7_options.orders.station_aet_by_modality = config.worklist_station_aets;
  hl7_options.orders.default_issuers = config.default_issuer_by_application;
  hl7_options.max_inbound_attempts = config.hl7_inbound_max_attempts;
  // Below the data disk's reserve nothing new is written, orders included: the SQLite index
  // shares that disk, and a RIS holds and resends what gets AE.
  hl7_options.room_for_writes = [&node] { return node->ingest->check_room(); };
  ReportService reports(*node->index, *node->ingest, *node->blobs);
  hl7::Hl7Service hl7_service(*node->index, hl7_options, &reports);
  web::OutboxMessages outbox_messages;
  if (outbox)
    outbox_messages = {[&outbox](const OutboxItem& item) { return outbox->message_for(item); },
                       &hl7::Outbox::check_edit};
  web::WorkflowApi workflow_api(*node->index, query, std::move(outbox_messages));
  web::AdminApi admin_api(*node->remover, *node->retention);
  web::PatientsApi patients_api(*node->index);
  web::ReconciliationApi reconciliation_api(*node->index);
  web::Hl7MessagesApi hl7_messages_api(
      *node->index, {.replay = [&hl7_service](std::int64_t id) { return hl7_service.replay(id); },
                     .check = &hl7::Outbox::check_edit,
                     .max_message_bytes = config.mllp_max_message_kb << 10});
  web::UiService ui({.directory = config.ui_dir, .external_viewer = config.external_viewer});
  fhir::FhirApi fhir_api(query, *node->index, "/dicom-web");
  const web::AccessGate gate(authenticator.get());
  // Ready: the index answers and the data disk has room for what arrives.
  web::OperationsApi operations([&node]() -> Result<void> {
    if (auto reachable = node->index->queue_counts(); !reachable)
      return fail(ErrorCode::IndexUnavailable, "index: " + reachable.error().message);
    return node->ingest->check_room();
  });
  watch_queues_and_disk(*node->index, config.data_dir);
  std::unique_ptr<web::HttpServer> http;
  if (config.http_port != 0) {
    http = std::make_unique<web::HttpServer>(
        web::HttpOptions{.address = config.http_address,
                         .port = config.http_port,
                         .max_body_bytes = config.http_max_request_mb << 20,
                         .max_connections = config.http_max_connections,
                         .cors_origins = config.http_cors_origins,
                         .tls = https,
                         .on_answered = count_http_request},
        [&dicomweb, &workflow_api, &admin_api, &patients_api, &reconciliation_api,
         &hl7_messages_api, &operations, &ui, &fhir_api, &gate](web::Exchange& exchange) {
          if (!gate.admit(exchange)) return web::already_answered();
          if (web::OperationsApi::handles(exchange.target())) return operations.handle(exchange);
          if (web::UiService::handles(exchange.target())) return ui.handle(exchange);
          if (fhir::FhirApi::handles(exchange.target())) return fhir_api.handle(exchange);
          if (web::AdminApi::handles(exchange.target())) return admin_api.handle(exchange);
          if (web::PatientsApi::handles(exchange.target())) return patients_api.handle(exchange);
          if (web::ReconciliationApi::handles(exchange.target()))
            return reconciliation_api.handle(exchange);
          if (web::Hl7MessagesApi::handles(exchange.target()))
            return hl7_messages_api.handle(exchange);
          return web::WorkflowApi::handles(exchange.target()) ? workflow_api.handle(exchange)
                                                              : dicomweb.handle(exchange);
        });
    if (auto started = http->start(); !started) {
      PACS_LOG(Error) << started.error().message;
      return 1;
    }
  }
  // The HL7 face, on loopback (a listen address and peer checks are not configurable yet).
  std::unique_ptr<hl7::MllpServer> mllp;
  if (config.mllp_port != 0) {
    mllp = std::make_unique<hl7::MllpServer>(
        hl7::MllpOptions{.address = "127.0.0.1",
                         .port = config.mllp_port,
                         .max_message_bytes = config.mllp_max_message_kb << 10,
                         .idle_timeout = std::chrono::seconds(config.mllp_idle_seconds),
                         .max_connections = 64,
                         .tls = mllp_tls},
        [&hl7_service](std::string_view message) { return hl7_service.handle(message); });
    if (auto started = mllp->start(); !started) {
      PACS_LOG(Error) << started.error().message;
      return 1;
    }
  }
  audit::record(audit::application_activity(true, config.aet));
  // SIGHUP: the peers and routing rules anew; a configuration that does not check keeps the
  // running one.
  auto reload = [&] {
    auto fresh = reread();
    if (fresh) {
      if (auto ok = check_config(*fresh); !ok) fresh = tl::unexpected(ok.error());
    }
    if (fresh && !fresh->tls_peers.empty() && !outbound_tls) {
      auto layer = dimse::make_tls_layer(fresh->tls, false);
      if (layer)
        outbound_tls = std::move(*layer);
      else
        fresh = tl::unexpected(layer.error());
    }
    if (!fresh) {
      PACS_LOG(Error) << "reload refused, the running configuration stays: "
                      << fresh.error().message;
      return;
    }
    peers->replace(peers_of(*fresh, outbound_tls));
    node->ingest->set_routes(fresh->routes);
    PACS_LOG(Info) << "configuration reloaded: " << fresh->peers.size() << " peers, "
                   << fresh->routes.size() << " routing rules (other settings change at the next "
                   << "start)";
  };
  std::jthread signals([&](std::stop_token stop) {
    // Woken by SIGINT/SIGTERM, or by the SIGTERM the main thread sends itself on the way out;
    // SIGHUP reloads and waits on. Bounded by the signals the process gets.
    int received = 0;
    for (;;) {
      sigwait(&stop_signals, &received);
      if (received != SIGHUP || stop.stop_requested()) break;
      reload();
    }
    if (!stop.stop_requested()) PACS_LOG(Info) << "signal " << received << ": stopping";
    dimse.stop();
  });
  auto served = dimse.run();
  if (http) http->stop();
  if (mllp) mllp->stop();
  outbox.reset();
  signals.request_stop();
  pthread_kill(signals.native_handle(), SIGTERM);
  if (!served) {
    PACS_LOG(Error) << served.error().message;
    return 1;
  }
  forwarder_ready = nullptr;
  audit::record(audit::application_activity(false, config.aet));
  std::filesystem::remove(marker);
  PACS_LOG(Info) << "pacsnode stopped";
  return 0;
}

}  // namespace pacs
