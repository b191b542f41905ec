// The record of lossy compression an image carries (PS3.3 C.7.6.1.1.5): Lossy Image Compression
// "01" once any lossy step happened, and one ratio and one method per step, oldest first.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <string>

namespace pacs::codecs {

// Appends a value to a multi-valued string attribute.
void append_value(DcmItem& dataset, const DcmTagKey& tag, const std::string& value);

// After an encoder wrote `syntax`: when that syntax is lossy, the record says so and names the
// syntax's method last (DCMTK's near-lossless JPEG-LS encoder records the ratio only).
void complete_lossy_history(DcmItem& dataset, E_TransferSyntax syntax);

}  // namespace pacs::codecs
