#include "pacsnode/services/deflated.h"

#include <zlib.h>

#include <array>
#include <fstream>
#include <string_view>
#include <vector>

#include "storage/part10.h"

namespace pacs {

DeflationCheck check_deflation(const std::filesystem::path& part10) {
  std::ifstream in(part10, std::ios::binary);
  std::array<unsigned char, kPart10HeadBytes> head{};
  constexpr std::size_t kMetaStart = 132;  // after the preamble and "DICM"
  // Without the preamble and "DICM" it is no Part 10 file, and DCMTK will not read it as one.
  if (!in.read(reinterpret_cast<char*>(head.data()), head.size()) ||
      std::string_view(reinterpret_cast<const char*>(head.data()) + 128, 4) != "DICM")
    return {Deflation::NotDeflated};
  const auto offset = part10_dataset_offset(head);
  // A meta group is a few hundred bytes; a larger claim is not a clean one.
  if (!offset || *offset - kMetaStart > 65536) return {Deflation::Unclear};
  std::vector<unsigned char> meta(*offset - kMetaStart);
  in.seekg(kMetaStart);
  if (!in.read(reinterpret_cast<char*>(meta.data()), static_cast<std::streamsize>(meta.size())))
    return {Deflation::Unclear};
  const auto syntax = part10_transfer_syntax(meta);
  if (!syntax) return {Deflation::Unclear};
  if (*syntax != kDeflatedExplicitLittleEndian) return {Deflation::NotDeflated};
  return {Deflation::Deflated, *offset};
}

Result<void> inflate_data_set(const std::filesystem::path& part10, std::uint64_t data_set_offset,
                              const std::filesystem::path& inflated, std::uint64_t max_size) {
  std::ifstream in(part10, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(data_set_offset));
  std::ofstream out(inflated, std::ios::binary | std::ios::trunc);
  if (!in || !out) return fail(ErrorCode::StorageFailure, "cannot inflate the deflated data set");

  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK)  // raw deflate (PS3.5 A.5), no zlib header
    return fail(ErrorCode::StorageFailure, "cannot start inflating the deflated data set");
  struct End {
    z_stream& s;
    ~End() { inflateEnd(&s); }
  } end{stream};

  std::array<char, 65536> input{};
  std::array<char, 65536> output{};
  std::uint64_t written = 0;
  int status = Z_OK;
  // Bounded: every pass consumes input or ends; the input is a file of finite size.
  while (status != Z_STREAM_END) {
    in.read(input.data(), input.size());
    stream.next_in = reinterpret_cast<Bytef*>(input.data());
    stream.avail_in = static_cast<uInt>(in.gcount());
    if (stream.avail_in == 0) return fail(ErrorCode::Malformed, "deflated data set is cut short");
    do {
      stream.next_out = reinterpret_cast<Bytef*>(output.data());
      stream.avail_out = static_cast<uInt>(output.size());
      status = inflate(&stream, Z_NO_FLUSH);
      if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR)
        return fail(ErrorCode::Malformed, "deflated data set is not a valid deflate stream");
      const std::size_t produced = output.size() - stream.avail_out;
      written += produced;
      if (written > max_size)
        return fail(ErrorCode::Malformed,
                    "deflated data set inflates beyond " + std::to_string(max_size >> 20) + " MB");
      out.write(output.data(), static_cast<std::streamsize>(produced));
    } while (stream.avail_out == 0 && status != Z_STREAM_END);
  }
  out.close();
  if (!out) return fail(ErrorCode::StorageFailure, "cannot write the inflated data set");
  return {};
}

}  // namespace pacs
