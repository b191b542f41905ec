// High-Throughput JPEG 2000 (PS3.5 A.4.11: 1.2.840.10008.1.2.4.201 lossless, .202 lossless RPCL,
// .203 lossless or lossy) on DCMTK 3.6.7, which predates these syntaxes. DCMTK reads such a file's
// data set as explicit VR little endian with an encapsulated pixel sequence that no codec claims.
// OpenJPEG 2.5 decodes HTJ2K codestreams, so that sequence is handed to our JPEG 2000 codec by
// labelling it JPEG 2000 in memory; the stored file keeps its own syntax and bytes. The node only
// decodes HTJ2K: there is no HTJ2K encoder among its dependencies.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <string_view>

namespace pacs::codecs {

inline constexpr const char* kHtj2kLossless = "1.2.840.10008.1.2.4.201";
inline constexpr const char* kHtj2kRpclLossless = "1.2.840.10008.1.2.4.202";
inline constexpr const char* kHtj2k = "1.2.840.10008.1.2.4.203";

bool is_htj2k(std::string_view syntax);

// The DCMTK syntax whose codec decodes `syntax`: itself when DCMTK knows it, JPEG 2000 (lossless
// only for .201 and .202) for the HTJ2K ones, EXS_Unknown otherwise.
E_TransferSyntax decoding_syntax(std::string_view syntax);

// DcmFileFormat::loadFile for a stored or received Part 10 file, HTJ2K ones included: their pixel
// data is labelled JPEG 2000 (the data set's original syntax follows), so chooseRepresentation()
// and DicomImage decode it. DCMTK refuses their meta header in the metaOnly and fileOnly modes;
// such a file is read in autoDetect mode (the meta header is there: its syntax was read).
OFCondition load_file(DcmFileFormat& file, const char* path,
                      Uint32 max_read_length = DCM_MaxReadLength,
                      E_FileReadMode mode = ERM_autoDetect);

}  // namespace pacs::codecs
