// Command lines of the test tools: "--flag value" pairs, with -h/--help anywhere.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace pacs::tools {

// Hands each "--flag value" pair to on_flag(flag, value), which returns an error message or "";
// -h or --help prints the usage to stdout and exits 0. Returns the first error, "" when none.
template <typename OnFlag>
std::string parse_flags(int argc, char** argv, void (*print_usage)(std::FILE*), OnFlag on_flag) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) return "missing value for " + std::string(arg);
    if (std::string error = on_flag(arg, std::string_view(argv[++i])); !error.empty()) return error;
  }
  return {};
}

}  // namespace pacs::tools
