#include "pacsnode/app/check_command.h"

#include <cstdio>

#include "security/authenticator.h"

namespace pacs {

int check_config_command(const Config& config) {
  if (auto ok = check_config(config); !ok) {
    std::fprintf(stderr, "pacsnode check-config: %s\n", ok.error().message.c_str());
    return 2;
  }
  if (config.http_auth.configured())
    if (auto made = security::Authenticator::create(config.http_auth); !made) {
      std::fprintf(stderr, "pacsnode check-config: HTTP authentication: %s\n",
                   made.error().message.c_str());
      return 2;
    }
  auto tls = [](bool on) { return on ? " (TLS)" : ""; };
  std::printf("config OK\n");
  std::printf("  DIMSE  AE %s on port %u%s; %zu AE permissions%s\n", config.aet.c_str(),
              config.dimse_port, tls(config.dimse_tls),
              config.ae_permissions.size() + config.allowed_calling_aets.size(),
              config.ae_permissions.empty() && config.allowed_calling_aets.empty()
                  ? " (any calling AE may use every service)"
                  : "");
  if (config.http_port)
    std::printf("  HTTP   %s:%u%s; authentication: %s\n", config.http_address.c_str(),
                config.http_port, tls(config.http_tls),
                config.http_auth.configured() ? "required"
                : config.http_auth_off        ? "off (on purpose)"
                                              : "none (loopback only)");
  if (config.mllp_port)
    std::printf("  MLLP   127.0.0.1:%u%s\n", config.mllp_port, tls(config.mllp_tls));
  std::printf("  index  %s; data in %s\n", config.db.c_str(), config.data_dir.c_str());
  std::printf("  %zu peers, %zu routes, %zu HL7 destinations; audit to %s%s%s\n",
              config.peers.size(), config.routes.size(), config.hl7_destinations.size(),
              config.audit_log.empty() ? "DATA/audit.log" : config.audit_log.c_str(),
              config.audit_syslog.empty() ? "" : " and ", config.audit_syslog.c_str());
  return 0;
}

}  // namespace pacs
