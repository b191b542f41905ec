// A DICOM UID that has been checked against the UID grammar (PS3.5 9.1); once built, it is valid.
#pragma once

#include <string>
#include <string_view>

#include "storage/model/result.h"

namespace pacs {

class Uid {
 public:
  // Accepts digits and dots, components without leading zeros, at most 64 characters. A trailing
  // NUL or space (the UI padding) is removed first.
  static Result<Uid> parse(std::string_view text);

  const std::string& str() const { return value_; }
  bool operator==(const Uid&) const = default;
  auto operator<=>(const Uid&) const = default;

 private:
  explicit Uid(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

}  // namespace pacs
