// HTTP for integration tests: requests made with curl (a real, independent client), a strict
// multipart/related reader, and Boost.JSON to check DICOM JSON against the model.
#pragma once

#include <boost/json/value.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pacs::testing {

struct HttpResponse {
  int status = 0;                              // 0: curl failed (see error)
  std::map<std::string, std::string> headers;  // names lower-cased; Warning values joined by "\n"
  std::string body;
  std::string error;
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

HttpResponse http_request(int port, const std::string& method, const std::string& path,
                          const std::vector<std::string>& headers = {},
                          const std::filesystem::path& body_file = {});

// The same over HTTPS, with curl's TLS arguments (--cacert FILE, --cert FILE, --key FILE).
HttpResponse https_request(int port, const std::string& method, const std::string& path,
                           const std::vector<std::string>& curl_tls_arguments,
                           const std::vector<std::string>& headers = {});

struct MultipartPart {
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};
// Reads a multipart body exactly as RFC 2046 5.1 frames it (no preamble, CRLF before every
// delimiter, the close delimiter last); nullopt with `why` set on any deviation.
std::optional<std::vector<MultipartPart>> parse_multipart_strict(const std::string& body,
                                                                 const std::string& boundary,
                                                                 std::string& why);
// The boundary parameter of a Content-Type.
std::string boundary_of(const std::string& content_type);

// Writes a multipart/related body of the files (each as one application/dicom part).
void write_multipart(const std::filesystem::path& out, const std::string& boundary,
                     const std::vector<std::filesystem::path>& files);

// Sends raw bytes to a loopback port (then, with hang_up, ends the sending side as a dropped client
// would) and returns what comes back until the server closes or 10 s pass without a byte.
std::string exchange_raw(int port, const std::string& bytes, bool hang_up = false);

// One STOW-RS request of the files to /dicom-web/studies, its body written to `body_file`, with
// any extra headers (e.g. Authorization).
HttpResponse stow(int port, const std::vector<std::filesystem::path>& files,
                  const std::filesystem::path& body_file,
                  const std::vector<std::string>& headers = {});

boost::json::value parse_json(const std::string& text);
// Checks one DICOM JSON object against PS3.18 Annex F; returns the problems found.
std::vector<std::string> dicom_json_problems(const boost::json::value& object);

}  // namespace pacs::testing
