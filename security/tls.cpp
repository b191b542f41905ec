#include "security/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <filesystem>

namespace pacs::security {
namespace {

// BCP 195 (RFC 7525 4.2) suites for TLS 1.2: ECDHE/DHE with AES-GCM; TLS 1.3 suites are
// OpenSSL's defaults, all AEAD.
constexpr const char* kBcp195Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

Result<SslContext> make_context(const TlsSettings& settings, bool server) {
  SslContext context(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()), SSL_CTX_free);
  if (!context) return fail(ErrorCode::InvalidArgument, "TLS: " + openssl_errors());
  SSL_CTX* c = context.get();
  // Every profile: TLS 1.2 or newer. bcp195-ex: 1.3 only.
  SSL_CTX_set_min_proto_version(c,
                                settings.profile == "bcp195-ex" ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(
      c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(c, kBcp195Ciphers) != 1)
    return fail(ErrorCode::InvalidArgument, "TLS ciphers: " + openssl_errors());
  if (!settings.certificate.empty()) {
    if (SSL_CTX_use_certificate_chain_file(c, settings.certificate.c_str()) != 1)
      return fail(ErrorCode::InvalidArgument,
                  "TLS certificate " + settings.certificate + ": " + openssl_errors());
    if (SSL_CTX_use_PrivateKey_file(c, settings.private_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c) != 1)
      return fail(ErrorCode::InvalidArgument,
                  "TLS private key " + settings.private_key + ": " + openssl_errors());
  }
  if (!settings.ca_file.empty() &&
      SSL_CTX_load_verify_locations(c, settings.ca_file.c_str(), nullptr) != 1)
    return fail(ErrorCode::InvalidArgument,
                "TLS CA file " + settings.ca_file + ": " + openssl_errors());
  using Clients = TlsSettings::ClientCertificates;
  int mode = SSL_VERIFY_PEER;  // a client always verifies the server
  if (server) {
    mode = settings.client_certificates == Clients::None ? SSL_VERIFY_NONE
           : settings.client_certificates == Clients::Optional
               ? SSL_VERIFY_PEER
               : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    if (mode != SSL_VERIFY_NONE && !settings.ca_file.empty())
      SSL_CTX_set_client_CA_list(c, SSL_load_client_CA_file(settings.ca_file.c_str()));
  }
  SSL_CTX_set_verify(c, mode, nullptr);
  return context;
}

}  // namespace

bool parse_client_certificates(const std::string& word, TlsSettings::ClientCertificates& out) {
  using Clients = TlsSettings::ClientCertificates;
  if (word == "none")
    out = Clients::None;
  else if (word == "optional")
    out = Clients::Optional;
  else if (word == "require")
    out = Clients::Require;
  else
    return false;
  return true;
}

Result<void> check_tls_settings(const TlsSettings& settings) {
  if (settings.certificate.empty() || settings.private_key.empty())
    return fail(ErrorCode::InvalidArgument, "TLS needs a certificate and its private key");
  for (const auto* file : {&settings.certificate, &settings.private_key, &settings.ca_file})
    if (!file->empty() && !std::filesystem::is_regular_file(*file))
      return fail(ErrorCode::InvalidArgument, "TLS file " + *file + " does not exist");
  if (settings.client_certificates != TlsSettings::ClientCertificates::None &&
      settings.ca_file.empty())
    return fail(ErrorCode::InvalidArgument,
                "verifying client certificates needs the CA file that issued them");
  if (settings.profile != "bcp195" && settings.profile != "bcp195-nd" &&
      settings.profile != "bcp195-ex")
    return fail(ErrorCode::InvalidArgument,
                "TLS profile '" + settings.profile + "': bcp195, bcp195-nd or bcp195-ex");
  auto context = make_server_context(settings);
  if (!context) return tl::unexpected(context.error());
  return {};
}

Result<SslContext> make_server_context(const TlsSettings& settings) {
  return make_context(settings, true);
}

Result<SslContext> make_client_context(const TlsSettings& settings) {
  return make_context(settings, false);
}

std::string openssl_errors() {
  std::string out;
  for (unsigned long e = ERR_get_error(), n = 0; e != 0 && n < 16; e = ERR_get_error(), ++n) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    out += (out.empty() ? "" : "; ") + std::string(text);
  }
  return out.empty() ? "unknown TLS error" : out;
}

}  // namespace pacs::security
