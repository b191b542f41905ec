#include "tests/support/storescp.h"

#include <chrono>
#include <thread>

#include "tests/support/dicom_files.h"

namespace pacs::testing {
namespace fs = std::filesystem;

Storescp::Storescp(const std::vector<std::string>& options) : port_(free_port()) {
  fs::create_directories(dir_.path() / "in");
  std::vector<std::string> argv{"storescp", "-aet", "DEST", "--output-directory",
                                (dir_.path() / "in").string()};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(std::to_string(port_));
  process_ = std::make_unique<Background>(argv, (dir_.path() / "storescp.log").string(),
                                          std::vector<std::string>{"TCP_NODELAY=1"});
  for (int i = 0; i < 500 && !port_accepts(port_); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

std::vector<fs::path> Storescp::files() const {
  return files_below(dir_.path() / "in");
}

}  // namespace pacs::testing
