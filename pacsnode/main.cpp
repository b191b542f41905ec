// pacsnode: one binary, subcommands. `pacsnode serve` runs the node; `pacsnode import` loads files.
#include <dcmtk/dcmdata/dcdict.h>

#include <cstdio>
#include <string>
#include <vector>

#include "codecs/registry.h"
#include "pacsnode/app/check_command.h"
#include "pacsnode/app/config.h"
#include "pacsnode/app/dcmtk_log.h"
#include "pacsnode/app/delete_command.h"
#include "pacsnode/app/fsck_command.h"
#include "pacsnode/app/import.h"
#include "pacsnode/app/privileges.h"
#include "pacsnode/app/queue_command.h"
#include "pacsnode/app/retention_command.h"
#include "pacsnode/app/secret_commands.h"
#include "pacsnode/app/serve.h"
#include "pacsnode/dimse/server.h"

namespace {

void print_usage() {
  std::printf(
      "usage: pacsnode COMMAND [flags]\n\n"
      "commands:\n"
      "  serve            run the node (DICOM C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET SCP)\n"
      "  import PATH...   ingest DICOM files and folders through the node's pipeline\n"
      "  queue [STATE]    the store-and-forward queue (STATE: pending, sent or failed)\n"
      "  delete LEVEL KEY remove from the archive: patient ID [ISSUER] | study UID | series UID\n"
      "                   | instance UID (index rows and files; exit 3 when nothing matches)\n"
      "  retention [run]  what the --retention-* rules remove now, and why; `run` removes it\n"
      "  fsck [--repair]  check the data directory against the index, with the node stopped\n"
      "                   (exit 0 clean, 1 all repaired, 4 problems left, 8 could not check)\n"
      "  check-config     check the configuration as serve would, without starting\n"
      "  new-token        a random HTTP API token and the hash to configure (--api-token)\n"
      "  hash-token       the hash of the API token given on standard input\n"
      "  hash-password    the hash of the password given on standard input (--basic-user)\n\n"
      "flags (for every command):\n%s",
      pacs::flags_help().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage();
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  if (command == "new-token" || command == "hash-token" || command == "hash-password")
    return pacs::secret_command(command);
  std::vector<std::string> flags(args.begin() + 1, args.end());
  // fsck's own flag; the others are the node's (data directory, index).
  const bool repair = command == "fsck" && std::erase(flags, "--repair") > 0;
  auto parsed = pacs::parse_command_line(flags);
  if (!parsed) {
    std::fprintf(stderr, "pacsnode: %s\n", parsed.error().message.c_str());
    return 2;
  }
  if (parsed->help) {
    print_usage();
    return 0;
  }
  const pacs::Config& config = parsed->config;
  pacs::log::set_level(config.log_level);
  pacs::log::set_format(config.log_format);
  pacs::route_dcmtk_logging(config.log_level);
  // Before any DCMTK socket exists.
  pacs::dimse::disable_nagle_for_dcmtk_sockets();
  if (!dcmDataDict.isDictionaryLoaded()) {
    std::fprintf(stderr,
                 "pacsnode: the DICOM data dictionary is not loaded (is DCMDICTPATH right?)\n");
    return 1;
  }
  // Every compressed syntax the node reads and converts (retrieve conversions, rendering, import
  // of files without a meta header).
  const pacs::codecs::CodecRegistry codecs;

  // Root is given up before any file or socket is opened (check-config opens none to speak of).
  if (!config.run_as.empty() && command != "check-config") {
    if (auto dropped = pacs::run_as(config.run_as, config.data_dir); !dropped) {
      std::fprintf(stderr, "pacsnode: %s\n", dropped.error().message.c_str());
      return 2;
    }
  }
  int rc = 2;
  if (command == "serve") {
    if (!parsed->positional.empty()) {
      std::fprintf(stderr, "pacsnode serve: unexpected argument '%s'\n",
                   parsed->positional[0].c_str());
    } else {
      rc = pacs::serve(config, [flags]() -> pacs::Result<pacs::Config> {
        auto again = pacs::parse_command_line(flags);
        if (!again) return tl::unexpected(again.error());
        return again->config;
      });
    }
  } else if (command == "import") {
    rc = pacs::import_paths(config, parsed->positional);
  } else if (command == "fsck") {
    if (parsed->positional.empty())
      rc = pacs::check_store_command(config, repair);
    else
      std::fprintf(stderr, "pacsnode fsck: unexpected argument '%s'\n",
                   parsed->positional[0].c_str());
  } else if (command == "check-config") {
    rc = pacs::check_config_command(config);
  } else if (command == "delete") {
    rc = pacs::delete_command(config, parsed->positional);
  } else if (command == "retention") {
    rc = pacs::retention_command(config, parsed->positional);
  } else if (command == "queue") {
    rc = pacs::show_queue(config, parsed->positional);
  } else {
    std::fprintf(stderr, "pacsnode: unknown command '%s' (try --help)\n", command.c_str());
  }
  return rc;
}
