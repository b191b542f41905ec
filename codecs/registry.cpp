#include "codecs/registry.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>

#include <algorithm>
#include <thread>

#include "codecs/j2k_codec.h"

namespace pacs::codecs {

CodecRegistry::CodecRegistry()
    : j2k_lossless_(std::make_unique<J2kCodec>(EXS_JPEG2000LosslessOnly)),
      j2k_lossy_(std::make_unique<J2kCodec>(EXS_JPEG2000)),
      j2k_default_(std::make_unique<J2kRepresentationParameter>()),
      // A frame decodes on a few threads: enough to speed up one large image, few enough that
      // many requests decoding at once do not swamp the cores.
      j2k_parameter_(std::make_unique<J2kCodecParameter>(
          std::clamp(std::thread::hardware_concurrency(), 1u, 4u))) {
  DJDecoderRegistration::registerCodecs();
  DJLSDecoderRegistration::registerCodecs();
  DcmRLEDecoderRegistration::registerCodecs();
  DcmCodecList::registerCodec(j2k_lossless_.get(), j2k_default_.get(), j2k_parameter_.get());
  DcmCodecList::registerCodec(j2k_lossy_.get(), j2k_default_.get(), j2k_parameter_.get());
}

CodecRegistry::~CodecRegistry() {
  DcmCodecList::deregisterCodec(j2k_lossy_.get());
  DcmCodecList::deregisterCodec(j2k_lossless_.get());
  DcmRLEDecoderRegistration::cleanup();
  DJLSDecoderRegistration::cleanup();
  DJDecoderRegistration::cleanup();
}

}  // namespace pacs::codecs
