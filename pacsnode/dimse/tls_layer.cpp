#include "pacsnode/dimse/tls_layer.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmtls/tlslayer.h>

namespace pacs::dimse {

Result<TlsLayer> make_tls_layer(const security::TlsSettings& settings, bool acceptor) {
  auto layer = std::make_shared<DcmTLSTransportLayer>(acceptor ? NET_ACCEPTOR : NET_REQUESTOR,
                                                      nullptr, OFTrue);
  auto failed = [](const std::string& what, const OFCondition& c) {
    return fail(ErrorCode::InvalidArgument, "DIMSE TLS " + what + ": " + c.text());
  };
  if (!*layer) return fail(ErrorCode::InvalidArgument, "DIMSE TLS: OpenSSL did not initialise");
  const DcmTLSSecurityProfile profile = settings.profile == "bcp195-nd" ? TSP_Profile_BCP195_ND
                                        : settings.profile == "bcp195-ex"
                                            ? TSP_Profile_BCP195_Extended
                                            : TSP_Profile_BCP195;
  if (auto c = layer->setTLSProfile(profile); c.bad()) return failed("profile", c);
  if (auto c = layer->activateCipherSuites(); c.bad()) return failed("cipher suites", c);
  if (!settings.certificate.empty()) {
    if (auto c = layer->setPrivateKeyFile(settings.private_key.c_str(), DCF_Filetype_PEM); c.bad())
      return failed("private key " + settings.private_key, c);
    if (auto c = layer->setCertificateFile(settings.certificate.c_str(), DCF_Filetype_PEM); c.bad())
      return failed("certificate " + settings.certificate, c);
    if (!layer->checkPrivateKeyMatchesCertificate())
      return fail(ErrorCode::InvalidArgument,
                  "DIMSE TLS: the private key does not match the certificate");
  }
  if (!settings.ca_file.empty())
    if (auto c = layer->addTrustedCertificateFile(settings.ca_file.c_str(), DCF_Filetype_PEM);
        c.bad())
      return failed("CA file " + settings.ca_file, c);
  using Clients = security::TlsSettings::ClientCertificates;
  if (!acceptor || settings.client_certificates == Clients::Require)
    layer->setCertificateVerification(DCV_requireCertificate);
  else if (settings.client_certificates == Clients::Optional)
    layer->setCertificateVerification(DCV_checkCertificate);
  else
    layer->setCertificateVerification(DCV_ignoreCertificate);
  return TlsLayer(std::move(layer));
}

}  // namespace pacs::dimse
