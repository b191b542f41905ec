#include "codecs/registry.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <algorithm>
#include <thread>

#include "codecs/j2k_codec.h"

namespace pacs::codecs {

const DcmRepresentationParameter* representation_parameter(E_TransferSyntax syntax) {
  // A deviation of 2 is CharLS's and DCMTK's tools' usual near-lossless setting.
  static const DJLSRepresentationParameter kNearLossless(2, /*losslessProcess=*/OFFalse);
  return syntax == EXS_JPEGLSLossy ? &kNearLossless : nullptr;
}

CodecRegistry::CodecRegistry()
    : j2k_lossless_(std::make_unique<J2kCodec>(EXS_JPEG2000LosslessOnly)),
      j2k_lossy_(std::make_unique<J2kCodec>(EXS_JPEG2000)),
      j2k_default_(std::make_unique<J2kRepresentationParameter>()),
      // A frame decodes on a few threads: enough to speed up one large image, few enough that
      // many requests decoding at once do not swamp the cores.
      j2k_parameter_(std::make_unique<J2kCodecParameter>(
          std::clamp(std::thread::hardware_concurrency(), 1u, 4u))) {
  // Colour is converted from YCbCr only where a lossy JPEG process stored it so: lossless JPEG of
  // YBR_FULL keeps YBR_FULL, as its Photometric Interpretation says, and decodes exactly.
  DJDecoderRegistration::registerCodecs(EDC_lossyOnly);
  DJLSDecoderRegistration::registerCodecs();
  DcmRLEDecoderRegistration::registerCodecs();
  // Encoders keep the SOP Instance UID, as our JPEG 2000 codec does: a conversion on the way out
  // is the same instance in another encoding (lossy ones record it in LossyImageCompression).
  DJEncoderRegistration::registerCodecs(ECC_lossyYCbCr, EUC_never);
  // DCMTK 3.6.7's "cooked" JPEG-LS encoder pads odd-length bitstreams in the wrong buffer and
  // emits one uninitialised byte (fixed upstream in 7696450bf); the raw encoder pads correctly.
  DJLSEncoderRegistration::registerCodecs(0, 0, 0, 0, /*preferCookedEncoding=*/OFFalse, 0, OFTrue,
                                          EJLSUC_never);
  DcmRLEEncoderRegistration::registerCodecs(OFFalse);
  DcmCodecList::registerCodec(j2k_lossless_.get(), j2k_default_.get(), j2k_parameter_.get());
  DcmCodecList::registerCodec(j2k_lossy_.get(), j2k_default_.get(), j2k_parameter_.get());
}

CodecRegistry::~CodecRegistry() {
  DcmCodecList::deregisterCodec(j2k_lossy_.get());
  DcmCodecList::deregisterCodec(j2k_lossless_.get());
  DcmRLEEncoderRegistration::cleanup();
  DJLSEncoderRegistration::cleanup();
  DJEncoderRegistration::cleanup();
  DcmRLEDecoderRegistration::cleanup();
  DJLSDecoderRegistration::cleanup();
  DJDecoderRegistration::cleanup();
}

}  // namespace pacs::codecs
