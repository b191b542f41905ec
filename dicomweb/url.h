// Request targets: path segments and query parameters, percent-decoded.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pacs::web {

struct Target {
  std::vector<std::string> segments;                       // the path split at '/', each decoded
  std::vector<std::pair<std::string, std::string>> query;  // in order; '+' is a space
};

// nullopt when a percent escape is broken.
std::optional<Target> parse_target(std::string_view target);
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
// A request target without its query: the path (query strings can carry patient names, so logs
// and metrics name the path only).
std::string_view path_of(std::string_view target);
// The first value of a query parameter ("" when absent).
std::string query_parameter(const Target& target, std::string_view name);
// A parameter's value as a whole decimal number from low to high; nullopt for anything else
// (a sign, a space, trailing text, a number out of range).
std::optional<std::size_t> number_in(std::string_view text, std::size_t low, std::size_t high);
// Every byte but the unreserved characters of RFC 3986 as %XX: safe in a path segment or a query
// component.
std::string percent_encode(std::string_view text);
// name=value pairs joined by '&', each side percent-encoded (without the leading '?').
std::string query_string(const std::vector<std::pair<std::string, std::string>>& query);

}  // namespace pacs::web
