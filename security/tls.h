// TLS settings of the node and the OpenSSL contexts made from them, for the faces that speak TLS
// through OpenSSL directly (MLLP, HTTPS); the DIMSE face hands the same settings to DCMTK.
#pragma once

#include <memory>
#include <string>

#include "storage/model/result.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace pacs::security {

struct TlsSettings {
  std::string certificate;  // PEM: the node's certificate (with its chain)
  std::string private_key;  // PEM, unencrypted
  std::string ca_file;      // PEM: CAs trusted for peers' certificates
  // What a server asks of clients: no certificate (none), one that verifies if sent (optional),
  // or a verifying one always (require). Outbound connections always verify the server.
  enum class ClientCertificates {
    None,
    Optional,
    Require
  } client_certificates = ClientCertificates::None;
  // BCP 195 (PS3.15 B.9, TLS 1.2+ with forward-secret AEAD suites); "bcp195-nd" (B.10) refuses
  // to negotiate down; "bcp195-ex" (B.11) is TLS 1.2+ with 1.3 suites only where possible.
  std::string profile = "bcp195";
  bool configured() const { return !certificate.empty() || !private_key.empty(); }
};

// "none", "optional", "require".
bool parse_client_certificates(const std::string& word, TlsSettings::ClientCertificates& out);
// Whether the files exist and the key matches the certificate; the error names the file.
Result<void> check_tls_settings(const TlsSettings& settings);

using SslContext = std::shared_ptr<SSL_CTX>;
// A context for accepting connections (server) or making them (client; verifies the server
// against ca_file and presents the node's certificate when it has one).
Result<SslContext> make_server_context(const TlsSettings& settings);
Result<SslContext> make_client_context(const TlsSettings& settings);
// OpenSSL's error queue as text (and emptied), for log lines.
std::string openssl_errors();

}  // namespace pacs::security
