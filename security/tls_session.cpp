#include "security/tls_session.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

namespace pacs::security {
namespace {

// Waits for the socket as OpenSSL asked (readable or writable) until the deadline.
bool wait(int fd, int ssl_error, TlsSession::Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, static_cast<short>(ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
}

bool is_ip_address(const std::string& name) {
  unsigned char bytes[16];
  return ::inet_pton(AF_INET, name.c_str(), bytes) == 1 ||
         ::inet_pton(AF_INET6, name.c_str(), bytes) == 1;
}

}  // namespace

Result<std::unique_ptr<TlsSession>> TlsSession::handshake(const SslContext& context, int fd,
                                                          bool server, Deadline deadline,
                                                          const std::string& peer_name) {
  ERR_clear_error();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  SSL* ssl = SSL_new(context.get());
  if (!ssl) return fail(ErrorCode::InvalidArgument, "TLS: " + openssl_errors());
  std::unique_ptr<TlsSession> session(new TlsSession(ssl, fd));
  SSL_set_fd(ssl, fd);
  if (!server && !peer_name.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    const int named = is_ip_address(peer_name)
                          ? X509_VERIFY_PARAM_set1_ip_asc(param, peer_name.c_str())
                          : X509_VERIFY_PARAM_set1_host(param, peer_name.c_str(), 0);
    if (named != 1) return fail(ErrorCode::InvalidArgument, "TLS: bad peer name " + peer_name);
    if (!is_ip_address(peer_name)) SSL_set_tlsext_host_name(ssl, peer_name.c_str());
  }
  // Bounded by the deadline: every pass makes progress or waits for the socket until it.
  for (;;) {
    const int done = server ? SSL_accept(ssl) : SSL_connect(ssl);
    if (done == 1) return session;
    const int error = SSL_get_error(ssl, done);
    if ((error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) &&
        wait(fd, error, deadline))
      continue;
    const long verified = SSL_get_verify_result(ssl);
    std::string why = error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE
                          ? "no handshake in time"
                          : openssl_errors();
    if (verified != X509_V_OK)
      why += " (certificate: " + std::string(X509_verify_cert_error_string(verified)) + ")";
    return fail(ErrorCode::InvalidArgument, "TLS handshake failed: " + why);
  }
}

TlsSession::~TlsSession() {
  SSL_shutdown(ssl_);  // best effort: a close_notify if the socket takes it now
  SSL_free(ssl_);
}

bool TlsSession::buffered() const {
  return SSL_pending(ssl_) > 0;
}

long TlsSession::read(char* into, std::size_t size) {
  std::size_t got = 0;
  if (SSL_read_ex(ssl_, into, size, &got) == 1) return static_cast<long>(got);
  const int error = SSL_get_error(ssl_, 0);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return kWouldBlock;
  if (error == SSL_ERROR_ZERO_RETURN) return 0;
  ERR_clear_error();
  return kFailed;
}

bool TlsSession::write_all(std::string_view bytes, Deadline deadline) {
  // Bounded by the bytes and the deadline.
  while (!bytes.empty()) {
    std::size_t written = 0;
    if (SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written) == 1) {
      bytes.remove_prefix(written);
      continue;
    }
    const int error = SSL_get_error(ssl_, 0);
    if ((error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) &&
        wait(fd_, error, deadline))
      continue;
    ERR_clear_error();
    return false;
  }
  return true;
}

std::string TlsSession::peer_subject() const {
  X509* certificate = SSL_get1_peer_certificate(ssl_);
  if (!certificate) return {};
  char subject[512];
  X509_NAME_oneline(X509_get_subject_name(certificate), subject, sizeof subject);
  X509_free(certificate);
  return subject;
}

}  // namespace pacs::security
