// A DCMTK storescp as a destination in tests (C-MOVE, routing).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs::testing {

// storescp (AE DEST) on a free loopback port, writing what it receives to a folder of its own;
// options go before the port. By default it accepts the uncompressed syntaxes only; "+xa" makes
// it accept every syntax.
class Storescp {
 public:
  explicit Storescp(const std::vector<std::string>& options = {});
  int port() const { return port_; }
  std::vector<std::filesystem::path> files() const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Background> process_;
};

}  // namespace pacs::testing
