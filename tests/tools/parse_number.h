// Command-line numbers for the test tools: the whole text must be a number within [min, max].
#pragma once

#include <charconv>
#include <optional>
#include <string_view>

namespace pacs::tools {

template <typename T>
std::optional<T> parse_number(std::string_view text, T min, T max) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max) return std::nullopt;
  return value;
}

}  // namespace pacs::tools
