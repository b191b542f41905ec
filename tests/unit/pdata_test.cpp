// P-DATA-TF framing of the messages the node encodes itself (PS3.8 9.3.5, E.2), read back by a
// walker that checks every length field against the bytes it frames.
#include "pacsnode/dimse/pdata.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace pacs::dimse {
namespace {

struct Pdv {
  T_ASC_PresentationContextID context = 0;
  bool command = false, last = false;
  std::vector<unsigned char> bytes;
};

std::uint32_t be32(const unsigned char* at) {
  return std::uint32_t{at[0]} << 24 | std::uint32_t{at[1]} << 16 | std::uint32_t{at[2]} << 8 |
         std::uint32_t{at[3]};
}

// The PDUs of `out`, each as its PDVs; fails the test on a length that does not add up.
std::vector<std::vector<Pdv>> walk(const std::vector<unsigned char>& out) {
  std::vector<std::vector<Pdv>> pdus;
  std::size_t at = 0;
  while (at < out.size()) {
    EXPECT_GE(out.size() - at, 6u) << "a PDU header is cut at " << at;
    if (out.size() - at < 6) break;
    EXPECT_EQ(out[at], 0x04) << "not a P-DATA-TF PDU at " << at;
    const std::size_t end = at + 6 + be32(&out[at + 2]);
    EXPECT_LE(end, out.size()) << "the PDU at " << at << " claims more bytes than there are";
    if (end > out.size()) break;
    std::vector<Pdv>& pdvs = pdus.emplace_back();
    for (std::size_t item = at + 6; item < end;) {
      const std::size_t item_end = item + 4 + be32(&out[item]);
      EXPECT_LE(item_end, end) << "a PDV item runs past its PDU";
      if (item_end > end) return pdus;
      Pdv& pdv = pdvs.emplace_back();
      pdv.context = out[item + 4];
      pdv.command = (out[item + 5] & 0x01) != 0;
      pdv.last = (out[item + 5] & 0x02) != 0;
      pdv.bytes.assign(out.begin() + static_cast<std::ptrdiff_t>(item + 6),
                       out.begin() + static_cast<std::ptrdiff_t>(item_end));
      item = item_end;
    }
    at = end;
  }
  return pdus;
}

std::vector<unsigned char> filled(std::size_t size, unsigned char first) {
  std::vector<unsigned char> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<unsigned char>(first + i);
  return bytes;
}

TEST(Pdata, AMessageThatFitsIsOnePduOfACommandPdvAndADataSetPdv) {
  const auto command = filled(90, 1), data_set = filled(200, 100);
  std::vector<unsigned char> out;
  append_message(out, command, data_set, 5, 1000);
  const auto pdus = walk(out);
  ASSERT_EQ(pdus.size(), 1u);
  ASSERT_EQ(pdus[0].size(), 2u);
  EXPECT_TRUE(pdus[0][0].command && pdus[0][0].last);
  EXPECT_EQ(pdus[0][0].context, 5);
  EXPECT_EQ(pdus[0][0].bytes, command);
  EXPECT_TRUE(!pdus[0][1].command && pdus[0][1].last);
  EXPECT_EQ(pdus[0][1].context, 5);
  EXPECT_EQ(pdus[0][1].bytes, data_set);
  EXPECT_EQ(out.size(), kPduHeaderBytes + command.size() + 6 + data_set.size());
}

TEST(Pdata, AMessageAtTheLimitStillFitsAndOneByteMoreIsSplit) {
  const auto command = filled(90, 1), data_set = filled(200, 100);
  const std::size_t limit = command.size() + 6 + data_set.size();
  std::vector<unsigned char> out;
  append_message(out, command, data_set, 3, limit);
  EXPECT_EQ(walk(out).size(), 1u);

  out.clear();
  append_message(out, command, data_set, 3, limit - 1);
  const auto pdus = walk(out);
  // The command on its own, then the data set fragmented to the limit.
  ASSERT_EQ(pdus.size(), 2u);
  ASSERT_EQ(pdus[0].size(), 1u);
  EXPECT_TRUE(pdus[0][0].command && pdus[0][0].last);
  EXPECT_EQ(pdus[0][0].bytes, command);
  ASSERT_EQ(pdus[1].size(), 1u);
  EXPECT_TRUE(!pdus[1][0].command && pdus[1][0].last);
  EXPECT_EQ(pdus[1][0].bytes, data_set);
}

TEST(Pdata, ALargeDataSetIsFragmentedWithOnlyItsLastPdvFlaggedLast) {
  const auto command = filled(90, 1), data_set = filled(1000, 7);
  std::vector<unsigned char> out;
  append_message(out, command, data_set, 1, 300);
  const auto pdus = walk(out);
  ASSERT_EQ(pdus.size(), 5u);  // the command, then 300 + 300 + 300 + 100 bytes
  std::vector<unsigned char> joined;
  for (std::size_t i = 1; i < pdus.size(); ++i) {
    ASSERT_EQ(pdus[i].size(), 1u);
    EXPECT_FALSE(pdus[i][0].command);
    EXPECT_EQ(pdus[i][0].last, i + 1 == pdus.size()) << "PDU " << i;
    EXPECT_LE(pdus[i][0].bytes.size(), 300u);
    joined.insert(joined.end(), pdus[i][0].bytes.begin(), pdus[i][0].bytes.end());
  }
  EXPECT_EQ(joined, data_set);
}

TEST(Pdata, MessagesAppendOneAfterAnother) {
  const auto command = filled(20, 1), first = filled(30, 50), second = filled(40, 90);
  std::vector<unsigned char> out;
  append_message(out, command, first, 7, 1000);
  append_message(out, command, second, 7, 1000);
  const auto pdus = walk(out);
  ASSERT_EQ(pdus.size(), 2u);
  EXPECT_EQ(pdus[0][1].bytes, first);
  EXPECT_EQ(pdus[1][1].bytes, second);
}

}  // namespace
}  // namespace pacs::dimse
