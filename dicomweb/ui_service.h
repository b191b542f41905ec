// The web UI on the HTTP port, under /ui: its static files (dicomweb/ui_files.h; they carry no
// patient data, so they need no authentication: the UI's API calls do), and the viewer launch URL
// an EHR opens for a study, /ui/viewer?study=UID | accession=A | patient=ID, which the UI
// resolves, or which hands off to an external viewer when one is configured.
#pragma once

#include <string>
#include <string_view>

#include "dicomweb/http_server.h"

namespace pacs::web {

struct UiOptions {
  std::string directory;  // serve the files from here instead of from the binary (development)
  // An external viewer's URL with {study}, {accession} and {patient}, filled from the launch URL's
  // parameters (percent-encoded); empty: the built-in viewer.
  std::string external_viewer;
};

class UiService {
 public:
  explicit UiService(UiOptions options) : options_(std::move(options)) {}
  static bool handles(std::string_view target);
  net::awaitable<void> handle(Exchange& exchange);

 private:
  UiOptions options_;
};

// The launch URL of a study's viewer below the node's public root (http://host:port).
std::string viewer_launch_template(const std::string& public_root);

}  // namespace pacs::web
