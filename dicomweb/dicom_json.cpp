#include "dicomweb/dicom_json.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcjson.h>

#include <cstdio>
#include <sstream>

namespace pacs::web {
namespace {

// Binary values up to this size stay inline: a BulkDataURI costs the client a request.
constexpr Uint32 kInlineBinaryLimit = 4096;

bool binary_vr(DcmEVR vr) {
  switch (vr) {
    case EVR_OB:
    case EVR_OD:
    case EVR_OF:
    case EVR_OL:
    case EVR_OV:
    case EVR_OW:
    case EVR_UN:
    case EVR_ox:
    case EVR_px:
    case EVR_pixelSQ:
      return true;
    default:
      return false;
  }
}

class BulkDataFormat : public DcmJsonFormatCompact {
 public:
  BulkDataFormat(DcmItem& dataset, std::string base)
      : DcmJsonFormatCompact(OFFalse), dataset_(dataset), base_(std::move(base)) {}

  OFBool asBulkDataURI(const DcmTagKey& tag, OFString& uri) override {
    if (base_.empty()) return OFFalse;
    DcmElement* element = nullptr;
    // Top level only: a nested element with the same tag is not what the URI would name.
    if (dataset_.findAndGetElement(tag, element, OFFalse).bad() || element == nullptr)
      return OFFalse;
    // Pixel Data always goes by reference (its class reports an internal VR of its own).
    if (tag != DCM_PixelData &&
        (!binary_vr(element->ident()) || element->getLengthField() <= kInlineBinaryLimit))
      return OFFalse;
    char text[16];
    std::snprintf(text, sizeof text, "%04X%04X", tag.getGroup(), tag.getElement());
    uri = (base_ + "/bulkdata/" + text).c_str();
    return OFTrue;
  }

 private:
  DcmItem& dataset_;
  std::string base_;
};

}  // namespace

std::string to_dicom_json(DcmItem& dataset, const std::string& bulk_base) {
  BulkDataFormat format(dataset, bulk_base);
  std::ostringstream out;
  dataset.writeJsonExt(out, format, OFTrue, OFFalse);
  return std::move(out).str();
}

}  // namespace pacs::web
