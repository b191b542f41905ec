// The node's configuration: a TOML file, then command-line flags on top.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pacsnode/services/forwarder.h"
#include "pacsnode/services/ingest.h"
#include "pacsnode/services/retention.h"
#include "pacsnode/services/routing.h"
#include "security/authenticator.h"
#include "security/tls.h"
#include "storage/model/log.h"
#include "storage/model/orders.h"
#include "storage/model/result.h"

namespace pacs {

struct Peer {
  std::string host;
  std::uint16_t port = 0;
};

// The host name (storage/model/host.h) as a node name; "pacsnode" when there is none.
std::string default_node_name();

struct Config {
  std::string data_dir = "./pacsnode-data";
  std::string db = "sqlite";
  // A PostgreSQL streaming replica of db that answers queries (C-FIND, QIDO-RS); "" for none.
  std::string db_replica;
  // This node's name among nodes sharing one index and data directory (each its own), and how long
  // work it claimed stays its own without renewal.
  ClaimPolicy claims = {default_node_name(), 30000};
  std::string aet = "PACSNODE";
  std::uint16_t dimse_port = 11112;
  std::uint16_t http_port = 8080;              // 0: no HTTP face
  std::string http_address = "127.0.0.1";      // beyond loopback only with authentication
  security::AuthSettings http_auth;            // none configured: no authentication
  bool http_auth_off = false;                  // open beyond loopback, on purpose
  std::vector<std::string> http_cors_origins;  // browser origins allowed to call DICOMweb
  std::uint64_t http_max_request_mb = 8192;    // one request body (a STOW upload) at most
  std::size_t http_max_connections = 512;      // served at once; one more gets 503
  std::uint16_t mllp_port = 2575;              // 0: no HL7 face
  std::uint64_t mllp_max_message_kb = 1024;    // one HL7 message at most
  unsigned mllp_idle_seconds = 300;            // a connection without a message is closed
  std::map<std::string, std::string> worklist_station_aets;  // modality -> Scheduled Station AE
  // The Issuer of Patient ID for sources that leave it empty: by calling AE title (C-STORE) and
  // by sending application (MSH-3.1 of an HL7 message), so one site's IDs stay its own.
  std::map<std::string, std::string> default_issuer_by_aet, default_issuer_by_application;
  std::map<std::string, Peer> hl7_destinations;  // RIS/EHR endpoints of outbound HL7, by name
  unsigned study_quiet_seconds = 60;             // no new instance for this long: complete
  unsigned hl7_outbox_max_attempts = 20;         // then an unanswered message is set aside
  unsigned hl7_inbound_max_attempts = 10;        // then a message that keeps failing is set aside
  unsigned rejection_grace_seconds = 86400;      // rejected instances' files kept this long (IOCM)
  RetentionPolicy retention;                     // what goes when (none by default)
  unsigned retention_interval_seconds = 3600;    // how often the node applies it
  bool study_complete_as_orm = false;            // announce with ORM^O01 instead of ORU^R01
  WorkflowPolicy workflow;                       // what reconciliation does to the index
  std::string public_url;                        // empty: http://127.0.0.1:<http_port>
  std::string viewer_url;       // a template with {study}, {accession}; empty: the UI's launch URL
  std::string ui_dir;           // serve the web UI from this directory, not from the binary
  std::string external_viewer;  // /ui/viewer hands off to this URL template
  unsigned max_associations = 32;
  unsigned max_find_results = 10000;  // per C-FIND; more matches are cut with a warning in the log
  std::set<std::string> allowed_calling_aets;  // each may use every service
  // Calling AEs with the DIMSE services they may use, as AET=SERVICES[@ADDRESSES] (see
  // dimse::parse_ae_permission), checked when read.
  std::vector<std::string> ae_permissions;
  std::optional<bool> unknown_aes_allowed;  // unset: allowed while no AE is named
  bool accept_unknown_sop_classes = false;
  // Storage commitment reports: "same" (on the requester's association while it is open, else a
  // new one) or "new" (always a new association to the requester's --peer entry).
  std::string commitment_report = "same";
  DuplicatePolicy duplicate_policy = DuplicatePolicy::Keep;
  bool always_sync_directories = false;  // also where the filesystem makes it unnecessary
  std::uint64_t min_free_mb = 128;       // kept free on the data disk: below it ingest refuses
  std::string store_as;                  // storage policy: images stored in this syntax
  std::map<std::string, Peer> peers;     // remote AEs the node sends to
  std::vector<RouteRule> routes;         // store-and-forward rules
  ForwardPolicy forwarding;
  log::Level log_level = log::Level::Info;
  log::Format log_format = log::Format::Text;
  // TLS: the node's certificate and trust, which faces use it (each then refuses plain
  // connections), and the outbound peers and HL7 destinations reached over it.
  security::TlsSettings tls;
  bool dimse_tls = false, http_tls = false, mllp_tls = false;
  std::set<std::string> tls_peers, tls_hl7_destinations;
  // The audit trail (PS3.15 A.5): always written locally (default DATA/audit.log), and sent to a
  // syslog collector when one is given (udp://HOST:PORT or tls://HOST:PORT).
  std::string audit_log, audit_syslog;
  std::string run_as;  // started as root: become this user before opening anything
};

// What the command line asked for: the config, plus any words that are not flags.
struct CommandLine {
  Config config;
  std::vector<std::string> positional;
  bool help = false;
};

// Settings that are each fine but wrong together, or unsafe: HTTP beyond loopback without
// authentication (unless turned off on purpose). The error says what to change.
Result<void> check_config(const Config& config);
bool is_loopback_address(const std::string& address);

// Reads --config FILE first (if given), then applies every other flag over it.
Result<CommandLine> parse_command_line(const std::vector<std::string>& args);
Result<void> load_config_file(const std::string& path, Config& config);
std::string flags_help();

}  // namespace pacs
