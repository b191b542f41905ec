#include "storage/checksum.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string_view>

#include "tests/support/test_node.h"

namespace pacs {
namespace {

std::span<const unsigned char> bytes_of(std::string_view text) {
  return {reinterpret_cast<const unsigned char*>(text.data()), text.size()};
}

TEST(Checksum, IsCrc32cOfTheStandardCheckValue) {
  // The check value of CRC-32C (RFC 3720 B.4's polynomial) for "123456789".
  EXPECT_EQ(crc32c(0, bytes_of("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c(0, {}), 0u);
  EXPECT_EQ(format_checksum(0xE3069283u), "crc32c:e3069283");
}

TEST(Checksum, OfPiecesEqualsOfTheWhole) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += static_cast<char>(i * 7);
  const auto whole = crc32c(0, bytes_of(text));
  for (std::size_t cut : {1u, 3u, 8u, 13u, 999u}) {
    const auto first = crc32c(0, bytes_of(std::string_view(text).substr(0, cut)));
    EXPECT_EQ(crc32c(first, bytes_of(std::string_view(text).substr(cut))), whole) << cut;
  }
}

TEST(Checksum, OfAFileCoversEveryByteAndReportsAMissingOne) {
  testing::TempDir dir;
  const auto path = dir.path() / "f";
  std::string text(600000, 'x');  // more than one read block
  text.back() = 'y';
  std::ofstream(path, std::ios::binary) << text;
  EXPECT_EQ(*file_checksum(path), format_checksum(crc32c(0, bytes_of(text))));
  auto missing = file_checksum(dir.path() / "absent");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::StorageFailure);
}

}  // namespace
}  // namespace pacs
