// JPEG 2000 in DCMTK's codec framework: with these registered, every chooseRepresentation() in
// the node (retrieve conversions, rendering, WADO) reads and writes 1.2.840.10008.1.2.4.90
// (lossless) and .91 (lossy) like the syntaxes DCMTK handles itself.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcpixel.h>

namespace pacs::codecs {

// The lossy compression ratio asked for (1.2.840.10008.1.2.4.91); 10:1 when none is given.
class J2kRepresentationParameter final : public DcmRepresentationParameter {
 public:
  explicit J2kRepresentationParameter(double ratio = 10) : ratio_(ratio) {}
  DcmRepresentationParameter* clone() const override {
    return new J2kRepresentationParameter(*this);
  }
  const char* className() const override { return "pacs::J2kRepresentationParameter"; }
  OFBool operator==(const DcmRepresentationParameter& other) const override;
  double ratio() const { return ratio_; }

 private:
  double ratio_;
};

// How many threads OpenJPEG may use for one frame's decoding.
class J2kCodecParameter final : public DcmCodecParameter {
 public:
  explicit J2kCodecParameter(unsigned threads) : threads_(threads) {}
  DcmCodecParameter* clone() const override { return new J2kCodecParameter(*this); }
  const char* className() const override { return "pacs::J2kCodecParameter"; }
  unsigned threads() const { return threads_; }

 private:
  unsigned threads_;
};

// One transfer syntax (lossless or lossy JPEG 2000) to and from the uncompressed ones. Frames of
// 1 or 3 samples, 8 or 16 bits allocated, signed or not; one fragment per frame with a Basic
// Offset Table when encoding; any fragmentation (offset table, one fragment per frame, or frames
// found by their EOC marker) when decoding.
class J2kCodec final : public DcmCodec {
 public:
  explicit J2kCodec(E_TransferSyntax syntax) : syntax_(syntax) {}

  OFCondition decode(const DcmRepresentationParameter* from_param, DcmPixelSequence* pixels,
                     DcmPolymorphOBOW& uncompressed, const DcmCodecParameter* parameter,
                     const DcmStack& stack, OFBool& remove_old_rep) const override;
  OFCondition decodeFrame(const DcmRepresentationParameter* from_param, DcmPixelSequence* pixels,
                          const DcmCodecParameter* parameter, DcmItem* dataset, Uint32 frame,
                          Uint32& start_fragment, void* buffer, Uint32 buffer_size,
                          OFString& color_model) const override;
  OFCondition encode(const Uint16* pixel_data, const Uint32 length,
                     const DcmRepresentationParameter* to_param, DcmPixelSequence*& pixels,
                     const DcmCodecParameter* parameter, DcmStack& stack,
                     OFBool& remove_old_rep) const override;
  OFCondition encode(const E_TransferSyntax, const DcmRepresentationParameter*, DcmPixelSequence*,
                     const DcmRepresentationParameter*, DcmPixelSequence*&,
                     const DcmCodecParameter*, DcmStack&, OFBool&) const override;
  OFBool canChangeCoding(const E_TransferSyntax old_syntax,
                         const E_TransferSyntax new_syntax) const override;
  OFCondition determineDecompressedColorModel(const DcmRepresentationParameter* from_param,
                                              DcmPixelSequence* pixels,
                                              const DcmCodecParameter* parameter, DcmItem* dataset,
                                              OFString& color_model) const override;

 private:
  E_TransferSyntax syntax_;
};

}  // namespace pacs::codecs
