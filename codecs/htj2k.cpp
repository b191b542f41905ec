#include "codecs/htj2k.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>

#include "codecs/bounded_load.h"

namespace pacs::codecs {
namespace {

// Moves the pixel sequence DCMTK read under the data set's fallback syntax to the JPEG 2000
// representation that decodes it.
void label_pixel_data(DcmDataset& dataset, E_TransferSyntax as) {
  DcmElement* element = nullptr;
  if (dataset.findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) return;
  auto* pixels = dynamic_cast<DcmPixelData*>(element);
  if (pixels == nullptr) return;
  E_TransferSyntax read_as = EXS_Unknown;
  const DcmRepresentationParameter* parameter = nullptr;
  pixels->getOriginalRepresentationKey(read_as, parameter);
  DcmPixelSequence* sequence = nullptr;
  if (pixels->getEncapsulatedRepresentation(read_as, parameter, sequence).bad() ||
      sequence == nullptr)
    return;  // native pixel data under an HTJ2K label: nothing a codec could decode
  // putOriginalRepresentation takes ownership and drops the representations it replaces, the
  // one `sequence` belongs to among them: it gets a copy.
  pixels->putOriginalRepresentation(as, nullptr, new DcmPixelSequence(*sequence));
  dataset.updateOriginalXfer();
}

}  // namespace

bool is_htj2k(std::string_view syntax) {
  return syntax == kHtj2kLossless || syntax == kHtj2kRpclLossless || syntax == kHtj2k;
}

E_TransferSyntax decoding_syntax(std::string_view syntax) {
  if (syntax == kHtj2kLossless || syntax == kHtj2kRpclLossless) return EXS_JPEG2000LosslessOnly;
  if (syntax == kHtj2k) return EXS_JPEG2000;
  return DcmXfer(std::string(syntax).c_str()).getXfer();
}

OFCondition load_file(DcmFileFormat& file, const char* path, Uint32 max_read_length,
                      E_FileReadMode mode) {
  OFCondition c = load_bounded(file, path, max_read_length, mode);
  OFString syntax;
  file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, syntax);
  if (!is_htj2k(syntax.c_str())) return c;
  if (c.bad() && mode != ERM_autoDetect) {
    file.clear();
    c = load_bounded(file, path, max_read_length, ERM_autoDetect);
  }
  if (c.good()) label_pixel_data(*file.getDataset(), decoding_syntax(syntax.c_str()));
  return c;
}

}  // namespace pacs::codecs
