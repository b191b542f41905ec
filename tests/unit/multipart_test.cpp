#include "dicomweb/multipart.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pacs::web {
namespace {

struct Collected {
  std::vector<PartHeaders> headers;
  std::vector<std::string> bodies;
  int ended = 0;
};

MultipartReader reader_for(const std::string& boundary, Collected& out) {
  return MultipartReader(boundary, {.begin_part =
                                        [&out](const PartHeaders& h) {
                                          out.headers.push_back(h);
                                          out.bodies.emplace_back();
                                          return true;
                                        },
                                    .part_data =
                                        [&out](std::span<const char> bytes) {
                                          out.bodies.back().append(bytes.data(), bytes.size());
                                          return true;
                                        },
                                    .end_part =
                                        [&out] {
                                          ++out.ended;
                                          return true;
                                        }});
}

const std::string kBody =
    "preamble to ignore\r\n--b0\r\nContent-Type: application/dicom\r\n\r\nfirst\r\n--b\r\n"
    "not a delimiter\r\n--b0  \r\ncontent-type: Application/DICOM\r\nX-Extra: 1\r\n\r\n"
    "second with \r\n-- inside\r\n--b0--\r\nepilogue";

TEST(Multipart, SplitsPartsWhateverTheChunkSize) {
  for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u, 4096u}) {
    Collected out;
    auto reader = reader_for("b0", out);
    for (std::size_t at = 0; at < kBody.size(); at += chunk)
      ASSERT_TRUE(reader.feed({kBody.data() + at, std::min(chunk, kBody.size() - at)}))
          << "chunk " << chunk;
    ASSERT_TRUE(reader.finish()) << "chunk " << chunk;
    ASSERT_EQ(out.bodies.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(out.bodies[0], "first\r\n--b\r\nnot a delimiter");
    EXPECT_EQ(out.bodies[1], "second with \r\n-- inside");
    EXPECT_EQ(out.headers[1].at("content-type"), "Application/DICOM");
    EXPECT_EQ(out.headers[1].at("x-extra"), "1");
    EXPECT_EQ(out.ended, 2);
  }
}

// Found by the multipart fuzz target: a preamble holding "--boundary" without a CRLF before it
// was taken for the opening delimiter when the reads happened to drop the text before it.
TEST(Multipart, OnlyTheBodysFirstBytesOpenItWithoutACrlf) {
  const std::string body =
      "preamble\r\nxx--b0\r\nnot: a part\r\n\r\nx\r\n--b0\r\nContent-Type: a/b\r\n\r\n"
      "real\r\n--b0--";
  for (std::size_t chunk : {1u, 3u, 11u, 4096u}) {
    Collected out;
    auto reader = reader_for("b0", out);
    for (std::size_t at = 0; at < body.size(); at += chunk)
      ASSERT_TRUE(reader.feed({body.data() + at, std::min(chunk, body.size() - at)}));
    ASSERT_TRUE(reader.finish()) << "chunk " << chunk;
    ASSERT_EQ(out.bodies.size(), 1u) << "chunk " << chunk;
    EXPECT_EQ(out.bodies[0], "real");
  }
  // At the very start the delimiter needs no CRLF, even when it arrives a byte at a time.
  const std::string opening = "--b0\r\n\r\nx\r\n--b0--";
  Collected out;
  auto reader = reader_for("b0", out);
  for (char ch : opening) ASSERT_TRUE(reader.feed({&ch, 1}));
  ASSERT_TRUE(reader.finish());
  ASSERT_EQ(out.bodies.size(), 1u);
  EXPECT_EQ(out.bodies[0], "x");
}

TEST(Multipart, RefusesBodiesThatAreCutOrMalformed) {
  Collected out;
  auto cut = reader_for("b0", out);
  ASSERT_TRUE(cut.feed({kBody.data(), kBody.size() - 20}));
  EXPECT_FALSE(cut.finish());

  Collected none;
  auto no_delimiter = reader_for("zz", none);
  ASSERT_TRUE(no_delimiter.feed({kBody.data(), kBody.size()}));
  EXPECT_FALSE(no_delimiter.finish());

  const std::string bad_header = "--b0\r\nno colon here\r\n\r\nx\r\n--b0--";
  Collected bad;
  EXPECT_FALSE(reader_for("b0", bad).feed({bad_header.data(), bad_header.size()}));

  const std::string junk_after = "--b0 junk\r\n\r\nx\r\n--b0--";
  Collected junk;
  EXPECT_FALSE(reader_for("b0", junk).feed({junk_after.data(), junk_after.size()}));
}

TEST(Multipart, MediaTypesKeepTheirParameters) {
  auto t = parse_media_type(
      "Multipart/Related; type=\"application/dicom\"; boundary=abc; transfer-syntax=*");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->type, "multipart/related");
  EXPECT_EQ(t->parameter("type"), "application/dicom");
  EXPECT_EQ(t->parameter("boundary"), "abc");
  EXPECT_EQ(t->parameter("transfer-syntax"), "*");
  EXPECT_FALSE(parse_media_type("nonsense"));
  EXPECT_FALSE(parse_media_type("a/b; type=\"unterminated"));
}

}  // namespace
}  // namespace pacs::web
