// JPEG 2000 (ISO/IEC 15444-1) frames on OpenJPEG: one DICOM frame to a codestream and back. The
// DcmCodec in j2k_codec.h applies these to whole pixel data elements; the fuzz target feeds
// decode_j2k arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "storage/model/result.h"

namespace pacs::codecs {

// How one frame's samples lie in memory, as DICOM describes them: interleaved samples (Planar
// Configuration 0), each in `bits_allocated` bits (8: a byte; 16: a host-order 16-bit word) of
// which the low `bits_stored` carry the value (High Bit = Bits Stored - 1), two's complement when
// signed (Pixel Representation 1).
struct FrameLayout {
  std::uint32_t columns = 0, rows = 0;
  std::uint16_t samples = 1;  // 1 or 3
  std::uint16_t bits_allocated = 8, bits_stored = 8;
  bool is_signed = false;

  std::size_t bytes() const {
    return static_cast<std::size_t>(columns) * rows * samples * (bits_allocated / 8);
  }
};

// Whether these codecs take frames of this layout: 1 or 3 samples, 8 or 16 bits allocated, 1 to
// 16 bits stored (at most the bits allocated), a non-empty image.
bool supported_layout(const FrameLayout& layout);

struct J2kEncoding {
  // 0: lossless (reversible 5/3 wavelet, 1.2.840.10008.1.2.4.90); otherwise the target compression
  // ratio of irreversible 9/7 coding (1.2.840.10008.1.2.4.91).
  double lossy_ratio = 0;
};

// A J2K codestream (no JP2 box wrapper, as DICOM stores it) of one frame. No multi-component
// transform: colour frames keep their Photometric Interpretation (RGB stays RGB).
Result<std::vector<unsigned char>> encode_j2k(std::span<const unsigned char> frame,
                                              const FrameLayout& layout,
                                              const J2kEncoding& encoding);

// The layout a codestream (or JP2 file) declares, read from its header only. Malformed when it
// cannot be read or is no layout supported_layout() takes (subsampled components, more than 16
// bits, components that differ). bits_allocated is 8 up to 8 bits of precision, else 16.
Result<FrameLayout> j2k_layout(std::span<const unsigned char> codestream);

// Decodes a codestream (or JP2 file) into `out`, which holds one frame of `expected` layout; the
// codestream must declare that image (size, samples, at most its bits stored). OpenJPEG may use
// up to `threads` threads. Values are written sign-extended to bits_allocated when signed.
Result<void> decode_j2k(std::span<const unsigned char> codestream, const FrameLayout& expected,
                        std::span<unsigned char> out, unsigned threads = 1);

}  // namespace pacs::codecs
