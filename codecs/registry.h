// Every codec the node decodes and encodes pixel data with, registered with DCMTK for as long as
// this object lives (one per process, made before any data set is converted): DCMTK's JPEG,
// JPEG-LS and RLE decoders and encoders, and our JPEG 2000 codec (lossless and lossy, both ways).
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcxfer.h>

#include <memory>

class DcmRepresentationParameter;

namespace pacs::codecs {

// The encoding parameters a conversion to `syntax` uses; nullptr where the codec's defaults are
// right. JPEG-LS near-lossless needs one: DCMTK's default parameter asks for the lossless
// process, which would write lossless data under the lossy UID.
const DcmRepresentationParameter* representation_parameter(E_TransferSyntax syntax);

class J2kCodec;
class J2kCodecParameter;
class J2kRepresentationParameter;

class CodecRegistry {
 public:
  CodecRegistry();
  ~CodecRegistry();
  CodecRegistry(const CodecRegistry&) = delete;
  CodecRegistry& operator=(const CodecRegistry&) = delete;

 private:
  std::unique_ptr<J2kCodec> j2k_lossless_, j2k_lossy_;
  std::unique_ptr<J2kRepresentationParameter> j2k_default_;
  std::unique_ptr<J2kCodecParameter> j2k_parameter_;
};

}  // namespace pacs::codecs
