// The DICOM JSON model (PS3.18 Annex F) of a data set, through DCMTK's writer.
#pragma once

#include <string>

class DcmItem;

namespace pacs::web {

// One JSON object. With a non-empty bulk_base (an instance's WADO-RS URL), Pixel Data and other
// top-level binary values over a few kilobytes become BulkDataURIs `bulk_base/bulkdata/GGGGEEEE`;
// everything else binary is InlineBinary. Text must already be UTF-8.
std::string to_dicom_json(DcmItem& dataset, const std::string& bulk_base = {});

}  // namespace pacs::web
