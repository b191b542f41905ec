// Certificates for TLS tests, made with the openssl tool: a test CA, a server certificate for
// 127.0.0.1 (also usable as a client's), a client certificate from the same CA, and a client
// certificate from another CA that nobody trusts.
#pragma once

#include <filesystem>
#include <string>

#include "tests/support/test_node.h"

namespace pacs::testing {

class TlsFiles {
 public:
  TlsFiles();  // throws when openssl fails
  std::string ca() const { return path("ca.crt"); }
  std::string server_certificate() const { return path("server.crt"); }
  std::string server_key() const { return path("server.key"); }
  std::string client_certificate() const { return path("client.crt"); }
  std::string client_key() const { return path("client.key"); }
  std::string rogue_certificate() const { return path("rogue.crt"); }
  std::string rogue_key() const { return path("rogue.key"); }
  // The node's TLS flags for these files (certificate, key, CA).
  std::vector<std::string> node_flags() const;

 private:
  std::string path(const char* name) const { return (dir_.path() / name).string(); }
  TempDir dir_;
};

}  // namespace pacs::testing
