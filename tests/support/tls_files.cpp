#include "tests/support/tls_files.h"

#include <fstream>
#include <stdexcept>

#include "tests/support/process.h"

namespace pacs::testing {
namespace {

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run(argv, std::chrono::seconds(60));
  if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.output);
}

// A CA: self-signed, allowed to sign certificates.
void make_ca(const std::filesystem::path& dir, const std::string& name) {
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
           (dir / (name + ".key")).string(), "-out", (dir / (name + ".crt")).string(), "-days", "2",
           "-subj", "/CN=pacsnode test " + name, "-addext", "basicConstraints=critical,CA:TRUE",
           "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
}

// A leaf certificate for 127.0.0.1 signed by the CA, for servers and clients alike.
void make_leaf(const std::filesystem::path& dir, const std::string& name, const std::string& ca) {
  const auto extensions = dir / (name + ".ext");
  std::ofstream(extensions) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                               "extendedKeyUsage=serverAuth,clientAuth\n"
                               "basicConstraints=critical,CA:FALSE\n";
  openssl({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", (dir / (name + ".key")).string(),
           "-out", (dir / (name + ".csr")).string(), "-subj", "/CN=" + name});
  openssl({"x509", "-req", "-in", (dir / (name + ".csr")).string(), "-CA",
           (dir / (ca + ".crt")).string(), "-CAkey", (dir / (ca + ".key")).string(),
           "-CAcreateserial", "-out", (dir / (name + ".crt")).string(), "-days", "2", "-extfile",
           extensions.string()});
}

}  // namespace

TlsFiles::TlsFiles() {
  make_ca(dir_.path(), "ca");
  make_leaf(dir_.path(), "server", "ca");
  make_leaf(dir_.path(), "client", "ca");
  make_ca(dir_.path(), "rogue-ca");
  make_leaf(dir_.path(), "rogue", "rogue-ca");
}

std::vector<std::string> TlsFiles::node_flags() const {
  return {"--tls-certificate", server_certificate(), "--tls-private-key",
          server_key(),        "--tls-ca",           ca()};
}

}  // namespace pacs::testing
