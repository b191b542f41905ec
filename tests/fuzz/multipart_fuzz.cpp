// The streaming multipart/related reader (STOW-RS bodies) on arbitrary bodies cut into arbitrary
// pieces: no crash, parts begin and end in pairs, and a body is read the same whatever its cuts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "dicomweb/multipart.h"

namespace {

struct Outcome {
  bool ok = false;
  std::size_t parts = 0;
  std::string data;  // every part's bytes, each followed by a marker
  bool operator==(const Outcome&) const = default;
};

Outcome read(const std::string& boundary, std::span<const char> body, std::size_t piece) {
  Outcome out;
  bool open = false;
  pacs::web::MultipartReader reader(boundary, {.begin_part =
                                                   [&](const pacs::web::PartHeaders&) {
                                                     if (open) std::abort();
                                                     open = true;
                                                     return true;
                                                   },
                                               .part_data =
                                                   [&](std::span<const char> bytes) {
                                                     if (!open) std::abort();
                                                     out.data.append(bytes.data(), bytes.size());
                                                     return true;
                                                   },
                                               .end_part =
                                                   [&] {
                                                     if (!open) std::abort();
                                                     open = false;
                                                     out.data += "\n--end--\n";
                                                     ++out.parts;
                                                     return true;
                                                   }});
  for (std::size_t at = 0; at < body.size(); at += piece)
    if (!reader.feed(body.subspan(at, std::min(piece, body.size() - at)))) return out;
  out.ok = reader.finish().has_value();
  if (out.ok && open) std::abort();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // The first byte sets the piece size and the boundary's length; the boundary comes next.
  const std::size_t piece = 1 + data[0] % 32u;
  const std::size_t boundary_size = 1 + data[0] / 32u * 4u;
  if (size < 1 + boundary_size) return 0;
  const std::string boundary(reinterpret_cast<const char*>(data + 1), boundary_size);
  const std::span<const char> body(reinterpret_cast<const char*>(data + 1 + boundary_size),
                                   size - 1 - boundary_size);
  const Outcome whole = read(boundary, body, body.size() + 1);
  const Outcome cut = read(boundary, body, piece);
  if (whole.ok != cut.ok || (whole.ok && !(whole == cut))) std::abort();
  return 0;
}
