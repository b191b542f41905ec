#include "codecs/lossy_history.h"

#include <dcmtk/dcmdata/dcdeftag.h>

namespace pacs::codecs {

void append_value(DcmItem& dataset, const DcmTagKey& tag, const std::string& value) {
  OFString existing;
  const bool has = dataset.findAndGetOFStringArray(tag, existing).good() && !existing.empty();
  dataset.putAndInsertString(tag,
                             ((has ? std::string(existing.c_str()) + "\\" : "") + value).c_str());
}

void complete_lossy_history(DcmItem& dataset, E_TransferSyntax syntax) {
  const DcmXfer xfer(syntax);
  if (!xfer.isLossy()) return;
  // PS3.3 Table C.7-1b defined terms.
  const char* method = nullptr;
  switch (syntax) {
    case EXS_JPEGProcess1:
    case EXS_JPEGProcess2_4:
      method = "ISO_10918_1";
      break;
    case EXS_JPEGLSLossy:
      method = "ISO_14495_1";
      break;
    case EXS_JPEG2000:
      method = "ISO_15444_1";
      break;
    default:
      break;
  }
  dataset.putAndInsertString(DCM_LossyImageCompression, "01");
  if (method == nullptr) return;
  OFString methods;
  dataset.findAndGetOFStringArray(DCM_LossyImageCompressionMethod, methods);
  const std::string list = methods.c_str();
  const std::size_t last = list.rfind('\\');
  if (list.substr(last == std::string::npos ? 0 : last + 1) != method)
    append_value(dataset, DCM_LossyImageCompressionMethod, method);
}

}  // namespace pacs::codecs
