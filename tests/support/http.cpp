#include "tests/support/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/process.h"

namespace pacs::testing {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

namespace {

HttpResponse curl(const std::string& url, const std::string& method,
                  const std::vector<std::string>& headers, const std::filesystem::path& body_file,
                  const std::vector<std::string>& extra_arguments) {
  char dir_template[] = "/tmp/pacsnode-http-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(dir_template);
  std::vector<std::string> argv = {"curl",
                                   "-s",
                                   "-S",
                                   "-X",
                                   method,
                                   "-D",
                                   (dir / "h").string(),
                                   "-o",
                                   (dir / "b").string(),
                                   "-w",
                                   "%{http_code}",
                                   "--max-time",
                                   "60"};
  for (const auto& h : headers) {
    argv.push_back("-H");
    argv.push_back(h);
  }
  if (!body_file.empty()) {
    argv.push_back("--data-binary");
    argv.push_back("@" + body_file.string());
  }
  argv.insert(argv.end(), extra_arguments.begin(), extra_arguments.end());
  argv.push_back(url);
  const auto r = run(argv, std::chrono::seconds(90));
  HttpResponse out;
  out.body = slurp(dir / "b");
  const std::string raw_headers = slurp(dir / "h");
  std::filesystem::remove_all(dir);
  if (r.exit_code != 0) {
    out.error = r.output;
    return out;
  }
  out.status = std::atoi(r.output.c_str());
  // The last header block is the final response's (a 100 Continue may come first).
  std::istringstream lines(raw_headers);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
      out.headers.clear();
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = lower(line.substr(0, colon));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    auto& slot = out.headers[name];
    slot = slot.empty() ? value : slot + "\n" + value;
  }
  return out;
}

}  // namespace

HttpResponse http_request(int port, const std::string& method, const std::string& path,
                          const std::vector<std::string>& headers,
                          const std::filesystem::path& body_file) {
  return curl("http://127.0.0.1:" + std::to_string(port) + path, method, headers, body_file, {});
}

HttpResponse https_request(int port, const std::string& method, const std::string& path,
                           const std::vector<std::string>& curl_tls_arguments,
                           const std::vector<std::string>& headers) {
  return curl("https://127.0.0.1:" + std::to_string(port) + path, method, headers, {},
              curl_tls_arguments);
}

std::optional<std::vector<MultipartPart>> parse_multipart_strict(const std::string& body,
                                                                 const std::string& boundary,
                                                                 std::string& why) {
  std::vector<MultipartPart> parts;
  const std::string first = "--" + boundary + "\r\n";
  if (body.compare(0, first.size(), first) != 0) {
    why = "the body does not start with the first delimiter";
    return std::nullopt;
  }
  std::size_t at = first.size();
  const std::string delimiter = "\r\n--" + boundary;
  for (;;) {
    MultipartPart part;
    for (;;) {
      const std::size_t eol = body.find("\r\n", at);
      if (eol == std::string::npos) {
        why = "part headers do not end";
        return std::nullopt;
      }
      if (eol == at) {
        at += 2;
        break;
      }
      const std::string line = body.substr(at, eol - at);
      const auto colon = line.find(':');
      if (colon == std::string::npos) {
        why = "part header line without a colon: " + line;
        return std::nullopt;
      }
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      part.headers[lower(line.substr(0, colon))] = value;
      at = eol + 2;
    }
    const std::size_t end = body.find(delimiter, at);
    if (end == std::string::npos) {
      why = "a part does not end with a delimiter";
      return std::nullopt;
    }
    part.body = body.substr(at, end - at);
    parts.push_back(std::move(part));
    at = end + delimiter.size();
    if (body.compare(at, 4, "--\r\n") == 0 && at + 4 == body.size()) return parts;
    if (body.compare(at, 2, "\r\n") != 0) {
      why = "a delimiter is followed by neither CRLF nor the close";
      return std::nullopt;
    }
    at += 2;
  }
}

std::string boundary_of(const std::string& content_type) {
  std::smatch m;
  if (std::regex_search(content_type, m, std::regex("boundary=\"?([^\";]+)\"?"))) return m[1];
  return {};
}

void write_multipart(const std::filesystem::path& out, const std::string& boundary,
                     const std::vector<std::filesystem::path>& files) {
  std::ofstream o(out, std::ios::binary);
  for (const auto& f : files)
    o << "--" << boundary << "\r\nContent-Type: application/dicom\r\n\r\n" << slurp(f) << "\r\n";
  o << "--" << boundary << "--\r\n";
}

boost::json::value parse_json(const std::string& text) {
  return boost::json::parse(text);
}

std::vector<std::string> dicom_json_problems(const boost::json::value& value) {
  std::vector<std::string> problems;
  if (!value.is_object()) return {"a data set is not a JSON object"};
  std::string previous;
  for (const auto& [key, attribute] : value.as_object()) {
    const std::string tag(key);
    if (tag.size() != 8 || tag.find_first_not_of("0123456789ABCDEF") != std::string::npos)
      problems.push_back("key " + tag + " is not 8 uppercase hex digits");
    if (!previous.empty() && tag <= previous) problems.push_back("keys out of order at " + tag);
    previous = tag;
    if (!attribute.is_object() || !attribute.as_object().contains("vr")) {
      problems.push_back(tag + " has no vr");
      continue;
    }
    const auto& a = attribute.as_object();
    const std::string vr(a.at("vr").as_string());
    if (!a.contains("Value")) continue;
    if (!a.at("Value").is_array()) {
      problems.push_back(tag + " Value is not an array");
      continue;
    }
    for (const auto& v : a.at("Value").as_array()) {
      if (v.is_null()) continue;
      if (vr == "PN" && !v.is_object()) problems.push_back(tag + " PN value is not an object");
      if (vr == "SQ") {
        for (auto& p : dicom_json_problems(v)) problems.push_back(tag + ">" + p);
      }
      if ((vr == "US" || vr == "UL" || vr == "SS" || vr == "SL" || vr == "FL" || vr == "FD") &&
          !v.is_number())
        problems.push_back(tag + " " + vr + " value is not a number");
      if ((vr == "UI" || vr == "DA" || vr == "TM" || vr == "CS" || vr == "LO" || vr == "SH") &&
          !v.is_string())
        problems.push_back(tag + " " + vr + " value is not a string");
    }
  }
  return problems;
}

HttpResponse stow(int port, const std::vector<std::filesystem::path>& files,
                  const std::filesystem::path& body_file, const std::vector<std::string>& headers) {
  const std::string boundary = "pacs-stow-boundary-0123456789";
  write_multipart(body_file, boundary, files);
  std::vector<std::string> all = {
      "Content-Type: multipart/related; type=\"application/dicom\"; boundary=" + boundary,
      "Accept: application/dicom+json"};
  all.insert(all.end(), headers.begin(), headers.end());
  return http_request(port, "POST", "/dicom-web/studies", all, body_file);
}

std::string exchange_raw(int port, const std::string& bytes, bool hang_up) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    if (hang_up) ::shutdown(fd, SHUT_WR);
    char buffer[4096];
    // Bounded by the receive timeout and the server closing the connection.
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, n);
  }
  ::close(fd);
  return answer;
}

}  // namespace pacs::testing
