// multipart/related bodies (RFC 2046 5.1, RFC 2387; PS3.18 8.6): the parser that STOW-RS
// streams request bodies through, and the media-type parameters both directions need.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/model/result.h"

namespace pacs::web {

// A media type with its parameters: names lower-cased, values unquoted.
struct MediaType {
  std::string type;  // "multipart/related", lower-cased
  std::map<std::string, std::string> parameters;
  std::string parameter(const std::string& name) const {
    const auto it = parameters.find(name);
    return it == parameters.end() ? std::string{} : it->second;
  }
};
// nullopt when the text is not a media type.
std::optional<MediaType> parse_media_type(std::string_view text);

// The media ranges of an Accept header with their weights, best first (RFC 9110 12.5.1); commas
// inside quoted parameters do not split.
struct AcceptedType {
  MediaType type;
  double q = 1.0;
};
std::vector<AcceptedType> parse_accept(std::string_view accept);

// A fresh random boundary for a multipart response (long enough never to occur in a body).
std::string new_boundary();

// Part headers, names lower-cased.
using PartHeaders = std::map<std::string, std::string>;

// Splits a body into parts as it arrives in pieces of any size. The callbacks get each part's
// headers, its data in pieces, and its end; one returning false stops the parsing (feed then
// fails with "stopped"). Memory stays bounded: only a delimiter's length is held back.
class MultipartReader {
 public:
  struct Callbacks {
    std::function<bool(const PartHeaders&)> begin_part;
    std::function<bool(std::span<const char>)> part_data;
    std::function<bool()> end_part;
  };
  MultipartReader(std::string boundary, Callbacks callbacks);

  Result<void> feed(std::span<const char> bytes);
  // At the end of the body: fails unless the closing delimiter was seen.
  Result<void> finish();
  std::size_t parts() const { return parts_; }

 private:
  enum class State { Preamble, AfterDelimiter, Headers, Body, Done };
  Result<void> step(bool& progressed);

  std::string delimiter_;  // "\r\n--" + boundary; the first one may lack the CRLF
  Callbacks callbacks_;
  State state_ = State::Preamble;
  std::string pending_;
  // Nothing of the body consumed or dropped yet: only here may a delimiter come without the CRLF
  // before it (RFC 2046 5.1.1).
  bool at_body_start_ = true;
  std::size_t parts_ = 0;
};

}  // namespace pacs::web
