#include "pacsnode/app/config.h"

#include "pacsnode/dimse/access_policy.h"
#include "security/secrets.h"
#include "storage/model/host.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcxfer.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <sstream>

namespace pacs {
namespace {

Result<std::uint16_t> parse_port(std::string_view text, std::string_view what) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
    return fail(ErrorCode::InvalidArgument,
                std::string(what) + ": '" + std::string(text) + "' is not a port (1-65535)");
  return static_cast<std::uint16_t>(value);
}

// A whole number from 1 to max for the flag `what`; the error names the flag and the range.
Result<std::uint64_t> parse_in_range(std::string_view text, std::uint64_t max,
                                     std::string_view what) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > max)
    return fail(ErrorCode::InvalidArgument, std::string(what) + ": '" + std::string(text) +
                                                "' is not 1 to " + std::to_string(max));
  return value;
}

Result<void> check_aet(const std::string& aet, std::string_view what) {
  if (aet.empty() || aet.size() > 16)
    return fail(ErrorCode::InvalidArgument,
                std::string(what) + ": AE title must have 1 to 16 characters");
  for (char c : aet)
    if (c == '\\' || c < 0x20 || c > 0x7e)
      return fail(ErrorCode::InvalidArgument, std::string(what) + ": AE title '" + aet +
                                                  "' has a character DICOM does not allow");
  return {};
}

// SOURCE=ISSUER, for the flag `flag`: the issuer is a DICOM LO (64 characters, no backslash).
Result<std::pair<std::string, std::string>> source_and_issuer(const std::string& text,
                                                              std::string_view flag) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    return fail(ErrorCode::InvalidArgument,
                std::string(flag) + ": '" + text + "' is not SOURCE=ISSUER");
  std::string issuer = text.substr(eq + 1);
  if (issuer.size() > 64 || std::any_of(issuer.begin(), issuer.end(), [](unsigned char c) {
        return c == '\\' || c < 0x20 || c == 0x7f;
      }))
    return fail(ErrorCode::InvalidArgument,
                std::string(flag) + ": issuer '" + issuer +
                    "' is not a DICOM LO (up to 64 characters, no backslash or control one)");
  return std::pair{text.substr(0, eq), std::move(issuer)};
}

// NAME=HOST:PORT, for the flag `flag`.
Result<std::pair<std::string, Peer>> parse_named_peer(const std::string& text, const char* flag) {
  const auto eq = text.find('='), colon = text.rfind(':');
  if (eq == std::string::npos || eq == 0 || colon == std::string::npos || colon < eq)
    return fail(ErrorCode::InvalidArgument,
                std::string(flag) + " '" + text + "': expected NAME=HOST:PORT");
  auto port = parse_port(std::string_view(text).substr(colon + 1), flag);
  if (!port) return tl::unexpected(port.error());
  return std::pair{text.substr(0, eq), Peer{text.substr(eq + 1, colon - eq - 1), *port}};
}

Result<void> add_peer(const std::string& text, Config& config) {
  auto peer = parse_named_peer(text, "--peer");
  if (!peer) return tl::unexpected(peer.error());
  if (auto ok = check_aet(peer->first, "--peer"); !ok) return ok;
  config.peers[peer->first] = peer->second;
  return {};
}

Result<void> add_hl7_destination(const std::string& text, Config& config) {
  auto peer = parse_named_peer(text, "--hl7-destination");
  if (!peer) return tl::unexpected(peer.error());
  config.hl7_destinations[peer->first] = peer->second;
  return {};
}

// NAME:ACCESS[,ACCESS...]:HASH, e.g. viewer:read:sha256$...; the hash is checked when the
// authenticator is built.
Result<security::Credential> parse_credential(const std::string& text, const char* flag) {
  const auto first = text.find(':');
  const auto second = first == std::string::npos ? first : text.find(':', first + 1);
  if (first == 0 || second == std::string::npos)
    return fail(ErrorCode::InvalidArgument,
                std::string(flag) +
                    ": expected NAME:ACCESS[,ACCESS]:HASH (ACCESS: read, write, "
                    "admin; HASH from pacsnode hash-token / hash-password)");
  security::Credential out{text.substr(0, first), text.substr(second + 1), 0};
  std::string accesses = text.substr(first + 1, second - first - 1);
  for (std::size_t from = 0, guard = 0; guard <= accesses.size(); ++guard) {
    const auto comma = accesses.find(',', from);
    const std::string word = accesses.substr(from, comma - from);
    auto access = security::parse_access(word);
    if (!access)
      return fail(ErrorCode::InvalidArgument,
                  std::string(flag) + ": '" + word + "' is not read, write or admin");
    out.access |= *access;
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  if (auto ok = security::check_stored_secret(out.hash); !ok)
    return fail(ErrorCode::InvalidArgument,
                std::string(flag) + " " + out.name + ": " + ok.error().message);
  return out;
}

Result<void> set_policy(std::string_view text, Config& config) {
  if (!parse_duplicate_policy(text, config.duplicate_policy))
    return fail(ErrorCode::InvalidArgument,
                "duplicate policy '" + std::string(text) + "': use keep, overwrite or reject");
  return {};
}

Result<void> set_log_level(std::string_view text, Config& config) {
  if (!log::parse_level(text, config.log_level))
    return fail(ErrorCode::InvalidArgument,
                "log level '" + std::string(text) + "': use debug, info, warn, error or off");
  return {};
}

Result<void> set_unsigned(std::string_view text, unsigned& out, std::string_view what) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || out == 0)
    return fail(ErrorCode::InvalidArgument,
                std::string(what) + ": '" + std::string(text) + "' is not a positive number");
  return {};
}

// The setter of a flag whose value is a whole number from 1 to max, kept in field.
template <typename Field>
std::function<Result<void>(const std::string&, Config&)> in_range(Field Config::*field,
                                                                  std::uint64_t max,
                                                                  const char* flag) {
  return [=](const std::string& v, Config& c) -> Result<void> {
    auto value = parse_in_range(v, max, flag);
    if (!value) return tl::unexpected(value.error());
    c.*field = static_cast<Field>(*value);
    return {};
  };
}

struct Flag {
  const char* name;
  const char* argument;  // nullptr: a switch without a value
  const char* help;
  std::function<Result<void>(const std::string&, Config&)> apply;
};

const std::vector<Flag>& flags() {
  static const std::vector<Flag> all = {
      {"--data-dir", "DIR", "where objects and the SQLite index live (default ./pacsnode-data)",
       [](const std::string& v, Config& c) -> Result<void> {
         c.data_dir = v;
         return {};
       }},
      {"--db", "URL",
       "index database: sqlite (default), sqlite:PATH or postgresql://user@host:port/db",
       [](const std::string& v, Config& c) -> Result<void> {
         c.db = v;
         return {};
       }},
      {"--db-replica", "URL",
       "a PostgreSQL streaming replica of --db that answers queries (C-FIND, QIDO-RS); a query "
       "the replica has not caught up for goes to the primary",
       [](const std::string& v, Config& c) -> Result<void> {
         if (!v.starts_with("postgresql://") && !v.starts_with("postgres://"))
           return fail(ErrorCode::InvalidArgument, "--db-replica: not a postgresql:// URL");
         c.db_replica = v;
         return {};
       }},
      {"--node-name", "NAME",
       "this node's name among nodes that share one index and data directory, each its own "
       "(letters, digits, '.', '-', '_'; default the host name)",
       [](const std::string& v, Config& c) -> Result<void> {
         const bool plain =
             !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](unsigned char ch) {
               return std::isalnum(ch) || ch == '.' || ch == '-' || ch == '_';
             });
         if (!plain)
           return fail(ErrorCode::InvalidArgument,
                       "--node-name: 1 to 64 letters, digits, '.', '-' or '_'");
         c.claims.node = v;
         return {};
       }},
      {"--lease-seconds", "N",
       "work a node claimed (forwarding, outbound HL7) goes to another node sharing the index "
       "once the node has not renewed it for this long (default 30)",
       [](const std::string& v, Config& c) -> Result<void> {
         auto seconds = parse_in_range(v, 3600, "--lease-seconds");
         if (!seconds) return tl::unexpected(seconds.error());
         if (*seconds < 1) return fail(ErrorCode::InvalidArgument, "--lease-seconds: at least 1");
         c.claims.lease_ms = static_cast<std::int64_t>(*seconds) * 1000;
         return {};
       }},
      {"--aet", "AET", "the node's AE title (default PACSNODE)",
       [](const std::string& v, Config& c) {
         c.aet = v;
         return check_aet(v, "--aet");
       }},
      {"--dimse-port", "N", "DICOM port (default 11112)",
       [](const std::string& v, Config& c) -> Result<void> {
         auto p = parse_port(v, "--dimse-port");
         if (!p) return tl::unexpected(p.error());
         c.dimse_port = *p;
         return {};
       }},
      {"--http-port", "N", "HTTP port for DICOMweb on 127.0.0.1 (default 8080; 0 turns it off)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v == "0") {
           c.http_port = 0;
           return {};
         }
         auto p = parse_port(v, "--http-port");
         if (!p) return tl::unexpected(p.error());
         c.http_port = *p;
         return {};
       }},
      {"--http-address", "ADDRESS",
       "the address HTTP listens on (default 127.0.0.1); any other needs authentication or "
       "--http-auth off",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v.empty()) return fail(ErrorCode::InvalidArgument, "--http-address is empty");
         c.http_address = v;
         return {};
       }},
      {"--http-auth", "off",
       "serve HTTP without authentication even beyond loopback (only behind something that "
       "authenticates)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v != "off") return fail(ErrorCode::InvalidArgument, "--http-auth: only 'off'");
         c.http_auth_off = true;
         return {};
       }},
      {"--jwt-issuer", "URL",
       "accept bearer JWTs from this issuer (with --jwt-audience, --jwks-file)",
       [](const std::string& v, Config& c) -> Result<void> {
         c.http_auth.jwt_issuer = v;
         return {};
       }},
      {"--jwt-audience", "NAME", "the audience (aud) a JWT must name",
       [](const std::string& v, Config& c) -> Result<void> {
         c.http_auth.jwt_audience = v;
         return {};
       }},
      {"--jwks-file", "FILE", "the issuer's signing keys (a JWKS document; RS256 and ES256)",
       [](const std::string& v, Config& c) -> Result<void> {
         c.http_auth.jwks_file = v;
         return {};
       }},
      {"--api-token", "NAME:ACCESS:HASH",
       "a static bearer token by its hash (pacsnode hash-token), with read, write and/or admin "
       "access, e.g. viewer:read:sha256$... (repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         auto credential = parse_credential(v, "--api-token");
         if (!credential) return tl::unexpected(credential.error());
         c.http_auth.api_tokens.push_back(std::move(*credential));
         return {};
       }},
      {"--basic-user", "NAME:ACCESS:HASH",
       "an HTTP Basic user for legacy viewers, by password hash (pacsnode hash-password) "
       "(repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         auto credential = parse_credential(v, "--basic-user");
         if (!credential) return tl::unexpected(credential.error());
         c.http_auth.basic_users.push_back(std::move(*credential));
         return {};
       }},
      {"--http-cors-origin", "ORIGIN",
       "a browser origin allowed to call DICOMweb, or * for any (repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v.empty()) return fail(ErrorCode::InvalidArgument, "--http-cors-origin is empty");
         c.http_cors_origins.push_back(v);
         return {};
       }},
      {"--http-max-request-mb", "N", "largest HTTP request body, e.g. a STOW upload (default 8192)",
       in_range(&Config::http_max_request_mb, 1048576, "--http-max-request-mb")},
      {"--min-free-mb", "N",
       "free space kept on the data disk; below it new objects are refused (C-STORE A700, "
       "STOW-RS 507) until space returns (default 128)",
       in_range(&Config::min_free_mb, 1048576, "--min-free-mb")},
      {"--store-as", "SYNTAX-UID",
       "store every image in this transfer syntax (e.g. 1.2.840.10008.1.2.4.90, JPEG 2000 "
       "lossless); one that cannot be converted is stored as it arrived (default: as it arrives)",
       [](const std::string& v, Config& c) -> Result<void> {
         // Whether a codec writes it is checked when the node opens (codecs registered).
         if (DcmXfer(v.c_str()).getXfer() == EXS_Unknown)
           return fail(ErrorCode::InvalidArgument,
                       "--store-as: " + v + " is not a transfer syntax");
         c.store_as = v;
         return {};
       }},
      {"--http-max-connections", "N",
       "HTTP connections served at once; one more gets 503 (default 512)",
       in_range(&Config::http_max_connections, 100000, "--http-max-connections")},
      {"--mllp-port", "N", "HL7 MLLP port on 127.0.0.1 (default 2575; 0 turns it off)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v == "0") {
           c.mllp_port = 0;
           return {};
         }
         auto p = parse_port(v, "--mllp-port");
         if (!p) return tl::unexpected(p.error());
         c.mllp_port = *p;
         return {};
       }},
      {"--mllp-max-message-kb", "N", "largest HL7 message taken (default 1024)",
       in_range(&Config::mllp_max_message_kb, 1048576, "--mllp-max-message-kb")},
      {"--mllp-idle-seconds", "N",
       "close an MLLP connection that brings no message this long (default 300)",
       in_range(&Config::mllp_idle_seconds, 86400, "--mllp-idle-seconds")},
      {"--worklist-station-aet", "MODALITY=AET",
       "the Scheduled Station AE of worklist items for a modality, for orders that name none "
       "(ORM^O01) (repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         const auto eq = v.find('=');
         if (eq == std::string::npos || eq == 0)
           return fail(ErrorCode::InvalidArgument,
                       "--worklist-station-aet: '" + v + "' is not MODALITY=AET");
         const std::string aet = v.substr(eq + 1);
         if (auto ok = check_aet(aet, "--worklist-station-aet"); !ok) return ok;
         c.worklist_station_aets[v.substr(0, eq)] = aet;
         return {};
       }},
      {"--default-issuer-for-ae", "AET=ISSUER",
       "objects a calling AE stores without an Issuer of Patient ID get this one (repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         auto pair = source_and_issuer(v, "--default-issuer-for-ae");
         if (!pair) return tl::unexpected(pair.error());
         if (auto ok = check_aet(pair->first, "--default-issuer-for-ae"); !ok) return ok;
         c.default_issuer_by_aet.insert(std::move(*pair));
         return {};
       }},
      {"--default-issuer-for-application", "APP=ISSUER",
       "HL7 messages from this sending application (MSH-3) without an assigning authority "
       "(PID-3.4) name patients of this issuer (repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         auto pair = source_and_issuer(v, "--default-issuer-for-application");
         if (!pair) return tl::unexpected(pair.error());
         c.default_issuer_by_application.insert(std::move(*pair));
         return {};
       }},
      {"--peer", "AET=HOST:PORT", "a remote AE the node may send to (repeatable)", add_peer},
      {"--hl7-destination", "NAME=HOST:PORT",
       "a RIS/EHR told over MLLP of procedure status and complete studies (repeatable)",
       add_hl7_destination},
      {"--study-quiet-seconds", "N",
       "a study with no new instance for this long is complete (default 60)",
       in_range(&Config::study_quiet_seconds, 86400, "--study-quiet-seconds")},
      {"--hl7-outbox-max-attempts", "N",
       "an outbound HL7 message with no answer after N attempts is set aside as failed, for an "
       "operator to fix and replay (default 20)",
       in_range(&Config::hl7_outbox_max_attempts, 1000, "--hl7-outbox-max-attempts")},
      {"--hl7-inbound-max-attempts", "N",
       "an inbound HL7 message that failed N times in a way that may pass is set aside as a dead "
       "letter (AE), so its sender's queue moves on (default 10)",
       in_range(&Config::hl7_inbound_max_attempts, 1000, "--hl7-inbound-max-attempts")},
      {"--retention-days", "N",
       "remove studies whose Study Date (or arrival, without one) is more than N days ago",
       [](const std::string& v, Config& c) -> Result<void> {
         auto days = parse_in_range(v, 1000000, "--retention-days");
         if (!days) return tl::unexpected(days.error());
         c.retention.keep_days = static_cast<unsigned>(*days);
         return {};
       }},
      {"--retention-days-for", "MODALITY=N",
       "keep studies with this modality N days instead (the longest of a study's modalities "
       "applies; repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         const auto eq = v.find('=');
         if (eq == 0 || eq == std::string::npos)
           return fail(ErrorCode::InvalidArgument, "--retention-days-for: MODALITY=N");
         auto days = parse_in_range(v.substr(eq + 1), 1000000, "--retention-days-for");
         if (!days) return tl::unexpected(days.error());
         c.retention.keep_days_by_modality[v.substr(0, eq)] = static_cast<unsigned>(*days);
         return {};
       }},
      {"--retention-disk", "HIGH:LOW",
       "when the data disk is HIGH% used, remove the oldest studies until it is LOW% used",
       [](const std::string& v, Config& c) -> Result<void> {
         const auto colon = v.find(':');
         const char* usage = "--retention-disk: HIGH:LOW percentages, LOW below HIGH";
         if (colon == std::string::npos) return fail(ErrorCode::InvalidArgument, usage);
         auto high = parse_in_range(v.substr(0, colon), 100, "--retention-disk");
         auto low = parse_in_range(v.substr(colon + 1), 99, "--retention-disk");
         if (!high || !low || *low >= *high) return fail(ErrorCode::InvalidArgument, usage);
         c.retention.disk_high_percent = static_cast<unsigned>(*high);
         c.retention.disk_low_percent = static_cast<unsigned>(*low);
         return {};
       }},
      {"--retention-interval-seconds", "N", "how often the retention rules run (default 3600)",
       in_range(&Config::retention_interval_seconds, 30u * 86400, "--retention-interval-seconds")},
      {"--rejection-grace-seconds", "N",
       "instances a rejection note (IHE IOCM key object) rejects leave queries at once; their "
       "files are purged after this long (default 86400)",
       in_range(&Config::rejection_grace_seconds, 365u * 86400, "--rejection-grace-seconds")},
      {"--study-complete-message", "oru|orm",
       "how a complete study is announced: ORU^R01 with its URLs, or ORM^O01 SC/CM (default oru)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v != "oru" && v != "orm")
           return fail(ErrorCode::InvalidArgument, "--study-complete-message: oru or orm");
         c.study_complete_as_orm = v == "orm";
         return {};
       }},
      {"--order-demographics", "coerce|keep",
       "a study linked to its order takes the order's patient name, birth date and sex "
       "(coerce, the default), or keeps the values it arrived with (keep)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v != "coerce" && v != "keep")
           return fail(ErrorCode::InvalidArgument, "--order-demographics: coerce or keep");
         c.workflow.coerce_demographics_from_order = v == "coerce";
         return {};
       }},
      {"--public-url", "URL",
       "the HTTP base URL receivers of HL7 messages reach the node at (default "
       "http://127.0.0.1:HTTP-PORT)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
           return fail(ErrorCode::InvalidArgument, "--public-url: an http:// or https:// URL");
         c.public_url = v;
         while (!c.public_url.empty() && c.public_url.back() == '/') c.public_url.pop_back();
         return {};
       }},
      {"--viewer-url", "TEMPLATE",
       "the viewer launch URL outbound messages carry, with {study} and {accession} (default the "
       "web UI's: PUBLIC-URL/ui/viewer?study={study})",
       [](const std::string& v, Config& c) -> Result<void> {
         c.viewer_url = v;
         return {};
       }},
      {"--ui-dir", "DIR",
       "serve the web UI from this directory instead of the copy built into the binary "
       "(development)",
       [](const std::string& v, Config& c) -> Result<void> {
         c.ui_dir = v;
         return {};
       }},
      {"--external-viewer", "TEMPLATE",
       "send /ui/viewer launches to this viewer URL, with {study}, {accession} and {patient} "
       "(e.g. an OHIF viewer's; default the built-in viewer)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
           return fail(ErrorCode::InvalidArgument, "--external-viewer: an http:// or https:// URL");
         c.external_viewer = v;
         return {};
       }},
      {"--allow-calling-aet", "AET", "accept associations only from these calling AEs (repeatable)",
       [](const std::string& v, Config& c) {
         c.allowed_calling_aets.insert(v);
         return check_aet(v, "--allow-calling-aet");
       }},
      {"--ae-permission", "AET=SERVICES[@ADDRESSES]",
       "the DIMSE services a calling AE may use (echo, store, find, move, get, worklist, mpps, "
       "commitment or all, comma-separated), optionally only from these addresses, e.g. "
       "CT1=echo,store@10.1.2.3; naming any AE refuses the others (repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         auto permission = dimse::parse_ae_permission(v);
         if (!permission) return tl::unexpected(permission.error());
         if (auto ok = check_aet(permission->first, "--ae-permission"); !ok) return ok;
         c.ae_permissions.push_back(v);
         return {};
       }},
      {"--unknown-aes", "accept|reject",
       "calling AEs no --ae-permission or --allow-calling-aet names: refused (the default once "
       "any AE is named) or allowed every service",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v != "accept" && v != "reject")
           return fail(ErrorCode::InvalidArgument, "--unknown-aes: accept or reject");
         c.unknown_aes_allowed = v == "accept";
         return {};
       }},
      {"--duplicate-policy", "keep|overwrite|reject",
       "a different object under a known SOP Instance UID (default keep)",
       [](const std::string& v, Config& c) { return set_policy(v, c); }},
      {"--accept-unknown-sop-classes", nullptr,
       "also accept storage SOP classes DCMTK does not know",
       [](const std::string&, Config& c) -> Result<void> {
         c.accept_unknown_sop_classes = true;
         return {};
       }},
      {"--sync-directories", nullptr,
       "sync the directory after every new file even on ext4/XFS, where the file's sync covers it",
       [](const std::string&, Config& c) -> Result<void> {
         c.always_sync_directories = true;
         return {};
       }},
      {"--commitment-report", "same|new",
       "where storage commitment reports go: on the requester's association while it stays "
       "open, else on a new one to its --peer entry (same, the default), or always on a new "
       "association (new)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v != "same" && v != "new")
           return fail(ErrorCode::InvalidArgument, "--commitment-report: same or new");
         c.commitment_report = v;
         return {};
       }},
      {"--max-associations", "N", "simultaneous DICOM associations (default 32)",
       [](const std::string& v, Config& c) {
         return set_unsigned(v, c.max_associations, "--max-associations");
       }},
      {"--max-find-results", "N", "matches one C-FIND returns at most (default 10000)",
       [](const std::string& v, Config& c) {
         return set_unsigned(v, c.max_find_results, "--max-find-results");
       }},
      {"--route", "CONDITIONS->AET[,AET][;deidentify[=OPTIONS]]",
       "forward arriving instances that match, e.g. modality=CT->ARCHIVE; with ;deidentify "
       "de-identified copies (OPTIONS: basic or retain-uids, retain-dates, clean-descriptors, "
       "allow-burned-in joined by +) (repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         auto rule = parse_route(v);
         if (!rule) return tl::unexpected(rule.error());
         c.routes.push_back(std::move(*rule));
         return check_routes(c.routes);
       }},
      {"--route-retry-seconds", "S",
       "first retry of a failed forward; doubles up to 600 (default 5)",
       [](const std::string& v, Config& c) -> Result<void> {
         char* end = nullptr;
         const double seconds = std::strtod(v.c_str(), &end);
         if (end == v.c_str() || *end || !(seconds > 0))
           return fail(ErrorCode::InvalidArgument,
                       "--route-retry-seconds: '" + v + "' is not a positive number");
         c.forwarding.first_retry_seconds = seconds;
         return {};
       }},
      {"--route-max-attempts", "N", "attempts before a forward is kept as failed (default 20)",
       [](const std::string& v, Config& c) {
         return set_unsigned(v, c.forwarding.max_attempts, "--route-max-attempts");
       }},
      {"--tls-certificate", "FILE", "the node's TLS certificate (PEM, with its chain)",
       [](const std::string& v, Config& c) -> Result<void> {
         c.tls.certificate = v;
         return {};
       }},
      {"--tls-private-key", "FILE", "the private key of --tls-certificate (PEM, unencrypted)",
       [](const std::string& v, Config& c) -> Result<void> {
         c.tls.private_key = v;
         return {};
       }},
      {"--tls-ca", "FILE", "CA certificates (PEM) trusted for peers' certificates",
       [](const std::string& v, Config& c) -> Result<void> {
         c.tls.ca_file = v;
         return {};
       }},
      {"--tls-client-certificates", "none|optional|require",
       "what TLS listeners ask of clients' certificates (default none)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (!security::parse_client_certificates(v, c.tls.client_certificates))
           return fail(ErrorCode::InvalidArgument,
                       "--tls-client-certificates: none, optional or require");
         return {};
       }},
      {"--tls-profile", "bcp195|bcp195-nd|bcp195-ex",
       "the TLS profile (PS3.15 B.9-B.11; default bcp195)",
       [](const std::string& v, Config& c) -> Result<void> {
         c.tls.profile = v;
         return {};
       }},
      {"--dimse-tls", nullptr, "DICOM over TLS only on the DIMSE port",
       [](const std::string&, Config& c) -> Result<void> {
         c.dimse_tls = true;
         return {};
       }},
      {"--http-tls", nullptr, "HTTPS only on the HTTP port",
       [](const std::string&, Config& c) -> Result<void> {
         c.http_tls = true;
         return {};
       }},
      {"--mllp-tls", nullptr, "MLLP over TLS only on the HL7 port",
       [](const std::string&, Config& c) -> Result<void> {
         c.mllp_tls = true;
         return {};
       }},
      {"--peer-tls", "AET", "reach this --peer over TLS (repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         c.tls_peers.insert(v);
         return {};
       }},
      {"--hl7-destination-tls", "NAME", "reach this --hl7-destination over TLS (repeatable)",
       [](const std::string& v, Config& c) -> Result<void> {
         c.tls_hl7_destinations.insert(v);
         return {};
       }},
      {"--audit-log", "FILE", "the append-only audit trail (default DATA-DIR/audit.log)",
       [](const std::string& v, Config& c) -> Result<void> {
         c.audit_log = v;
         return {};
       }},
      {"--audit-syslog", "URL",
       "also send audit messages to a syslog collector: udp://IPV4:PORT or tls://IPV4:PORT (TLS "
       "with the node's certificate, the collector's checked against --tls-ca)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (!v.starts_with("udp://") && !v.starts_with("tls://"))
           return fail(ErrorCode::InvalidArgument,
                       "--audit-syslog: udp://HOST:PORT or tls://HOST:PORT");
         c.audit_syslog = v;
         return {};
       }},
      {"--run-as", "USER",
       "started as root: run as this user (the data directory is made for it when missing)",
       [](const std::string& v, Config& c) -> Result<void> {
         if (v.empty()) return fail(ErrorCode::InvalidArgument, "--run-as is empty");
         c.run_as = v;
         return {};
       }},
      {"--log-format", "text|json", "log lines as text (default) or one JSON object each",
       [](const std::string& v, Config& c) -> Result<void> {
         if (!log::parse_format(v, c.log_format))
           return fail(ErrorCode::InvalidArgument, "--log-format: text or json");
         return {};
       }},
      {"--log-level", "LEVEL", "debug, info (default), warn, error or off",
       [](const std::string& v, Config& c) { return set_log_level(v, c); }},
  };
  return all;
}

template <typename T>
std::optional<T> get(const toml::table& t, std::string_view key) {
  if (auto node = t[key]) return node.value<T>();
  return std::nullopt;
}

}  // namespace

Result<void> load_config_file(const std::string& path, Config& config) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return fail(ErrorCode::InvalidArgument,
                "config " + path + " " + where.str() + ": " + std::string(e.description()));
  }
  auto wrong = [&](std::string_view key) {
    return fail(ErrorCode::InvalidArgument,
                "config " + path + ": '" + std::string(key) + "' has the wrong type");
  };
  auto apply = [&](const Flag& flag, const std::string& value) {
    return flag.apply(value, config);
  };
  auto flag = [](std::string_view name) -> const Flag& {
    for (const Flag& f : flags())
      if (f.name == name) return f;
    throw std::logic_error("no such flag");
  };
  // Every key maps onto the flag of the same meaning, so both check values the same way.
  const std::pair<const char*, const char*> strings[] = {
      {"data_dir", "--data-dir"},     {"db", "--db"},        {"db_replica", "--db-replica"},
      {"node_name", "--node-name"},   {"aet", "--aet"},      {"log_level", "--log-level"},
      {"log_format", "--log-format"}, {"run_as", "--run-as"}};
  for (auto [key, name] : strings)
    if (root.contains(key)) {
      auto v = get<std::string>(root, key);
      if (!v) return wrong(key);
      if (auto ok = apply(flag(name), *v); !ok) return ok;
    }
  const std::tuple<const char*, const char*, const char*> ports[] = {
      {"dimse", "port", "--dimse-port"},
      {"http", "port", "--http-port"},
      {"mllp", "port", "--mllp-port"}};
  for (auto [section, key, name] : ports)
    if (auto table = root[section].as_table(); table && table->contains(key)) {
      auto v = get<std::int64_t>(*table, key);
      if (!v) return wrong(std::string(section) + "." + key);
      if (auto ok = apply(flag(name), std::to_string(*v)); !ok) return ok;
    }
  if (auto http = root["http"].as_table(); http && http->contains("max_request_mb")) {
    auto v = get<std::int64_t>(*http, "max_request_mb");
    if (!v) return wrong("http.max_request_mb");
    if (auto ok = apply(flag("--http-max-request-mb"), std::to_string(*v)); !ok) return ok;
  }
  const std::tuple<const char*, const char*, const char*> numbers[] = {
      {"http", "max_connections", "--http-max-connections"},
      {"storage", "min_free_mb", "--min-free-mb"},
      {"mllp", "max_message_kb", "--mllp-max-message-kb"},
      {"mllp", "idle_seconds", "--mllp-idle-seconds"},
      {"cluster", "lease_seconds", "--lease-seconds"}};
  for (auto [section, key, name] : numbers)
    if (auto table = root[section].as_table(); table && table->contains(key)) {
      auto v = get<std::int64_t>(*table, key);
      if (!v) return wrong(std::string(section) + "." + key);
      if (auto ok = apply(flag(name), std::to_string(*v)); !ok) return ok;
    }
  // Tables of name = "value", each pair given to a NAME=VALUE flag.
  for (const auto& [section, key, name] :
       {std::tuple{"worklist", "station_aets", "--worklist-station-aet"},
        std::tuple{"identity", "default_issuer_by_ae", "--default-issuer-for-ae"},
        std::tuple{"identity", "default_issuer_by_application",
                   "--default-issuer-for-application"}}) {
    auto parent = root[section].as_table();
    if (!parent || !parent->contains(key)) continue;
    auto table = (*parent)[key].as_table();
    const std::string where = std::string(section) + "." + key;
    if (!table) return wrong(where);
    for (const auto& [left, right] : *table) {
      auto v = right.value<std::string>();
      if (!v) return wrong(where);
      if (auto ok = apply(flag(name), std::string(left.str()) + "=" + *v); !ok) return ok;
    }
  }
  if (auto http = root["http"].as_table(); http && http->contains("cors_origins")) {
    auto origins = (*http)["cors_origins"].as_array();
    if (!origins) return wrong("http.cors_origins");
    for (const auto& origin : *origins) {
      auto v = origin.value<std::string>();
      if (!v) return wrong("http.cors_origins");
      if (auto ok = apply(flag("--http-cors-origin"), *v); !ok) return ok;
    }
  }
  if (auto dimse = root["dimse"].as_table()) {
    if (dimse->contains("max_associations")) {
      auto v = get<std::int64_t>(*dimse, "max_associations");
      if (!v) return wrong("dimse.max_associations");
      if (auto ok = apply(flag("--max-associations"), std::to_string(*v)); !ok) return ok;
    }
    if (dimse->contains("commitment_report")) {
      auto v = get<std::string>(*dimse, "commitment_report");
      if (!v) return wrong("dimse.commitment_report");
      if (auto ok = apply(flag("--commitment-report"), *v); !ok) return ok;
    }
    if (dimse->contains("max_find_results")) {
      auto v = get<std::int64_t>(*dimse, "max_find_results");
      if (!v) return wrong("dimse.max_find_results");
      if (auto ok = apply(flag("--max-find-results"), std::to_string(*v)); !ok) return ok;
    }
    if (dimse->contains("duplicate_policy")) {
      auto v = get<std::string>(*dimse, "duplicate_policy");
      if (!v) return wrong("dimse.duplicate_policy");
      if (auto ok = set_policy(*v, config); !ok) return ok;
    }
    if (dimse->contains("accept_unknown_sop_classes")) {
      auto v = get<bool>(*dimse, "accept_unknown_sop_classes");
      if (!v) return wrong("dimse.accept_unknown_sop_classes");
      config.accept_unknown_sop_classes = *v;
    }
    if (auto list = (*dimse)["allowed_calling_aets"]; list) {
      auto array = list.as_array();
      if (!array) return wrong("dimse.allowed_calling_aets");
      for (const auto& item : *array) {
        auto v = item.value<std::string>();
        if (!v) return wrong("dimse.allowed_calling_aets");
        if (auto ok = apply(flag("--allow-calling-aet"), *v); !ok) return ok;
      }
    }
    if (dimse->contains("unknown_aes")) {
      auto v = get<std::string>(*dimse, "unknown_aes");
      if (!v) return wrong("dimse.unknown_aes");
      if (auto ok = apply(flag("--unknown-aes"), *v); !ok) return ok;
    }
    // [dimse.aes.CT1] services = ["echo", "store"], addresses = ["10.1.2.3"]
    if (auto aes = (*dimse)["aes"]; aes) {
      if (!aes.as_table()) return wrong("dimse.aes");
      for (const auto& [aet, entry] : *aes.as_table()) {
        const std::string where = "dimse.aes." + std::string(aet.str());
        auto table = entry.as_table();
        if (!table) return wrong(where);
        auto words = [&](const char* key, std::string& out) -> bool {
          auto array = (*table)[key].as_array();
          if (!array) return !table->contains(key);
          for (const auto& item : *array) {
            auto v = item.value<std::string>();
            if (!v) return false;
            out += (out.empty() ? "" : ",") + *v;
          }
          return true;
        };
        std::string services, addresses;
        if (!words("services", services)) return wrong(where + ".services");
        if (!words("addresses", addresses)) return wrong(where + ".addresses");
        const std::string text =
            std::string(aet.str()) + "=" + services + (addresses.empty() ? "" : "@" + addresses);
        if (auto ok = apply(flag("--ae-permission"), text); !ok) return ok;
      }
    }
  }
  if (auto storage = root["storage"].as_table(); storage && storage->contains("store_as")) {
    auto v = get<std::string>(*storage, "store_as");
    if (!v) return wrong("storage.store_as");
    if (auto ok = apply(flag("--store-as"), *v); !ok) return ok;
  }
  if (auto storage = root["storage"].as_table(); storage && storage->contains("sync_directories")) {
    auto v = get<bool>(*storage, "sync_directories");
    if (!v) return wrong("storage.sync_directories");
    config.always_sync_directories = *v;
  }
  if (auto routes = root["routes"]; routes) {
    auto array = routes.as_array();
    if (!array) return wrong("routes");
    for (const auto& item : *array) {
      auto v = item.value<std::string>();
      if (!v) return wrong("routes");
      if (auto ok = apply(flag("--route"), *v); !ok) return ok;
    }
  }
  if (auto routing = root["routing"].as_table()) {
    if (auto v = (*routing)["first_retry_seconds"].value<double>())
      config.forwarding.first_retry_seconds = *v;
    if (auto v = (*routing)["max_retry_seconds"].value<double>())
      config.forwarding.max_retry_seconds = *v;
    if (auto v = (*routing)["max_attempts"].value<std::int64_t>())
      config.forwarding.max_attempts = static_cast<unsigned>(std::max<std::int64_t>(1, *v));
  }
  if (auto hl7 = root["hl7"].as_table()) {
    if (auto destinations = (*hl7)["destinations"].as_table()) {
      for (const auto& [name, value] : *destinations) {
        auto v = value.value<std::string>();
        if (!v) return wrong("hl7.destinations." + std::string(name.str()));
        if (auto ok = add_hl7_destination(std::string(name.str()) + "=" + *v, config); !ok)
          return ok;
      }
    }
    const std::pair<const char*, const char*> hl7_keys[] = {
        {"study_quiet_seconds", "--study-quiet-seconds"},
        {"outbox_max_attempts", "--hl7-outbox-max-attempts"},
        {"inbound_max_attempts", "--hl7-inbound-max-attempts"},
        {"study_complete_message", "--study-complete-message"},
        {"order_demographics", "--order-demographics"}};
    for (auto [key, name] : hl7_keys) {
      if (!hl7->contains(key)) continue;
      const auto& node = (*hl7)[key];
      auto text = node.is_integer() ? std::optional(std::to_string(*node.value<std::int64_t>()))
                                    : node.value<std::string>();
      if (!text) return wrong(std::string("hl7.") + key);
      if (auto ok = apply(flag(name), *text); !ok) return ok;
    }
  }
  if (auto http = root["http"].as_table()) {
    const std::pair<const char*, const char*> http_keys[] = {
        {"public_url", "--public-url"},
        {"viewer_url", "--viewer-url"},
        {"ui_dir", "--ui-dir"},
        {"external_viewer", "--external-viewer"}};
    for (auto [key, name] : http_keys) {
      if (!http->contains(key)) continue;
      auto v = (*http)[key].value<std::string>();
      if (!v) return wrong(std::string("http.") + key);
      if (auto ok = apply(flag(name), *v); !ok) return ok;
    }
  }
  if (auto http = root["http"].as_table()) {
    const std::pair<const char*, const char*> http_strings[] = {{"address", "--http-address"},
                                                                {"auth", "--http-auth"}};
    for (auto [key, name] : http_strings) {
      if (!http->contains(key)) continue;
      auto v = (*http)[key].value<std::string>();
      if (!v) return wrong(std::string("http.") + key);
      if (auto ok = apply(flag(name), *v); !ok) return ok;
    }
    // [http.jwt] issuer, audience, jwks_file
    if (auto jwt = (*http)["jwt"]; jwt) {
      if (!jwt.as_table()) return wrong("http.jwt");
      const std::pair<const char*, std::string security::AuthSettings::*> keys[] = {
          {"issuer", &security::AuthSettings::jwt_issuer},
          {"audience", &security::AuthSettings::jwt_audience},
          {"jwks_file", &security::AuthSettings::jwks_file}};
      for (auto [key, field] : keys) {
        if (!jwt.as_table()->contains(key)) continue;
        auto v = (*jwt.as_table())[key].value<std::string>();
        if (!v) return wrong(std::string("http.jwt.") + key);
        config.http_auth.*field = *v;
      }
    }
    // [[http.tokens]] / [[http.users]]: name, access = ["read", ...], hash
    const std::pair<const char*, const char*> credential_lists[] = {{"tokens", "--api-token"},
                                                                    {"users", "--basic-user"}};
    for (auto [key, name] : credential_lists) {
      if (!http->contains(key)) continue;
      auto array = (*http)[key].as_array();
      if (!array) return wrong(std::string("http.") + key);
      for (const auto& item : *array) {
        const auto* entry = item.as_table();
        const auto credential_name = entry ? (*entry)["name"].value<std::string>() : std::nullopt;
        const auto hash = entry ? (*entry)["hash"].value<std::string>() : std::nullopt;
        const auto* access = entry ? (*entry)["access"].as_array() : nullptr;
        if (!credential_name || !hash || !access)
          return wrong(std::string("http.") + key + " (name, access and hash)");
        std::string accesses;
        for (const auto& a : *access) {
          auto word = a.value<std::string>();
          if (!word) return wrong(std::string("http.") + key + ".access");
          accesses += (accesses.empty() ? "" : ",") + *word;
        }
        if (auto ok = apply(flag(name), *credential_name + ":" + accesses + ":" + *hash); !ok)
          return ok;
      }
    }
  }
  // [tls] certificate, private_key, ca_file, client_certificates, profile, peers = [AET...],
  // hl7_destinations = [NAME...]; and tls = true in [dimse], [mllp] for the listeners.
  if (auto tls = root["tls"].as_table()) {
    const std::pair<const char*, const char*> tls_keys[] = {
        {"certificate", "--tls-certificate"},
        {"private_key", "--tls-private-key"},
        {"ca_file", "--tls-ca"},
        {"client_certificates", "--tls-client-certificates"},
        {"profile", "--tls-profile"}};
    for (auto [key, name] : tls_keys) {
      if (!tls->contains(key)) continue;
      auto v = (*tls)[key].value<std::string>();
      if (!v) return wrong(std::string("tls.") + key);
      if (auto ok = apply(flag(name), *v); !ok) return ok;
    }
    const std::pair<const char*, const char*> tls_lists[] = {
        {"peers", "--peer-tls"}, {"hl7_destinations", "--hl7-destination-tls"}};
    for (auto [key, name] : tls_lists) {
      if (!tls->contains(key)) continue;
      auto array = (*tls)[key].as_array();
      if (!array) return wrong(std::string("tls.") + key);
      for (const auto& item : *array) {
        auto v = item.value<std::string>();
        if (!v) return wrong(std::string("tls.") + key);
        if (auto ok = apply(flag(name), *v); !ok) return ok;
      }
    }
  }
  const std::pair<const char*, bool Config::*> tls_faces[] = {
      {"dimse", &Config::dimse_tls}, {"http", &Config::http_tls}, {"mllp", &Config::mllp_tls}};
  for (auto [section, field] : tls_faces)
    if (auto table = root[section].as_table(); table && table->contains("tls")) {
      auto v = (*table)["tls"].value<bool>();
      if (!v) return wrong(std::string(section) + ".tls");
      config.*field = *v;
    }
  if (auto audit = root["audit"].as_table()) {
    const std::pair<const char*, const char*> audit_keys[] = {{"log_file", "--audit-log"},
                                                              {"syslog", "--audit-syslog"}};
    for (auto [key, name] : audit_keys) {
      if (!audit->contains(key)) continue;
      auto v = (*audit)[key].value<std::string>();
      if (!v) return wrong(std::string("audit.") + key);
      if (auto ok = apply(flag(name), *v); !ok) return ok;
    }
  }
  if (auto peers = root["peers"].as_table()) {
    for (const auto& [aet, value] : *peers) {
      auto v = value.value<std::string>();
      if (!v) return wrong("peers." + std::string(aet.str()));
      if (auto ok = add_peer(std::string(aet.str()) + "=" + *v, config); !ok) return ok;
    }
  }
  return {};
}

bool is_loopback_address(const std::string& address) {
  return address.starts_with("127.") || address == "::1" || address == "localhost";
}

std::string default_node_name() {
  const std::string host = host_name();
  return host.empty() ? "pacsnode" : host;
}

Result<void> check_config(const Config& config) {
  if (!config.db_replica.empty() && !config.db.starts_with("postgres"))
    return fail(ErrorCode::InvalidArgument, "--db-replica needs a PostgreSQL --db");
  const bool tls_used = config.dimse_tls || config.http_tls || config.mllp_tls ||
                        !config.tls_peers.empty() || !config.tls_hl7_destinations.empty() ||
                        config.audit_syslog.starts_with("tls://");
  if (tls_used) {
    if (auto ok = security::check_tls_settings(config.tls); !ok) return ok;
    if (!config.tls_peers.empty() || !config.tls_hl7_destinations.empty() ||
        config.audit_syslog.starts_with("tls://"))
      if (config.tls.ca_file.empty())
        return fail(ErrorCode::InvalidArgument,
                    "TLS to peers needs --tls-ca: their certificates are verified");
  }
  for (const auto& aet : config.tls_peers)
    if (!config.peers.count(aet))
      return fail(ErrorCode::InvalidArgument, "--peer-tls " + aet + ": no such --peer");
  for (const auto& name : config.tls_hl7_destinations)
    if (!config.hl7_destinations.count(name))
      return fail(ErrorCode::InvalidArgument,
                  "--hl7-destination-tls " + name + ": no such --hl7-destination");
  if (config.http_auth_off && config.http_auth.configured())
    return fail(ErrorCode::InvalidArgument,
                "--http-auth off contradicts the configured JWT issuer, API tokens or users");
  if (config.http_port != 0 && !is_loopback_address(config.http_address) &&
      !config.http_auth.configured() && !config.http_auth_off)
    return fail(ErrorCode::InvalidArgument,
                "refusing to serve HTTP on " + config.http_address +
                    " without authentication: configure a JWT issuer (--jwt-issuer, "
                    "--jwt-audience, --jwks-file), API tokens (--api-token) or users "
                    "(--basic-user), or say --http-auth off to serve it open on purpose");
  return {};
}

Result<CommandLine> parse_command_line(const std::vector<std::string>& args) {
  CommandLine out;
  // The file first, so that flags override it wherever they stand.
  for (std::size_t i = 0; i < args.size(); ++i)
    if (args[i] == "--config") {
      if (i + 1 == args.size()) return fail(ErrorCode::InvalidArgument, "--config needs a file");
      if (auto ok = load_config_file(args[i + 1], out.config); !ok)
        return tl::unexpected(ok.error());
    }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out.help = true;
      continue;
    }
    if (a == "--config") {
      ++i;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      out.positional.push_back(a);
      continue;
    }
    // --flag=value or --flag value
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    const Flag* flag = nullptr;
    for (const Flag& f : flags())
      if (name == f.name) flag = &f;
    if (!flag) return fail(ErrorCode::InvalidArgument, "unknown flag " + name + " (see --help)");
    std::string value;
    if (flag->argument) {
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return fail(ErrorCode::InvalidArgument, name + " needs a value " + flag->argument);
      }
    }
    if (auto ok = flag->apply(value, out.config); !ok) return tl::unexpected(ok.error());
  }
  return out;
}

std::string flags_help() {
  std::ostringstream out;
  out << "  --config FILE                 a TOML config file; flags given here override it\n";
  for (const Flag& f : flags()) {
    std::string left = std::string(f.name) + (f.argument ? std::string(" ") + f.argument : "");
    left.resize(std::max<std::size_t>(left.size() + 1, 30), ' ');
    out << "  " << left << f.help << "\n";
  }
  out << "  --help                        this text\n";
  return out.str();
}

}  // namespace pacs
