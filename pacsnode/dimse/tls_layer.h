// DCMTK's TLS transport layer (dcmtls, on OpenSSL) built from the node's TLS settings: for the
// DIMSE listener (client certificates as configured) and for outbound associations (the server's
// certificate always verified against the CA file).
#pragma once

#include <memory>

#include "security/tls.h"
#include "storage/model/result.h"

class DcmTransportLayer;

namespace pacs::dimse {

using TlsLayer = std::shared_ptr<DcmTransportLayer>;
Result<TlsLayer> make_tls_layer(const security::TlsSettings& settings, bool acceptor);

}  // namespace pacs::dimse
