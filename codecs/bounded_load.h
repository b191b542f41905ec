#pragma once
// Loading a Part 10 file whose element lengths cannot be trusted yet.
//
// DCMTK leaves a value longer than the maximum read length in the file and reads it on first
// access, allocating its declared length before it reads. A malformed object can declare a 4 GB
// value in a 300-byte file; the first findAndGet on it would then ask for 4 GB. These loaders
// refuse such a file before anything touches a value.
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <cstdint>

namespace pacs::codecs {

// Good when no element under `root` declares a value longer than `bytes`.
OFCondition declared_lengths_fit(DcmObject& root, std::uintmax_t bytes);

// DcmFileFormat::loadFile, then declared_lengths_fit against the file's size; a file that does not
// fit is left empty.
OFCondition load_bounded(DcmFileFormat& file, const char* path, Uint32 max_read_length,
                         E_FileReadMode mode);

// DcmDataset::loadFile of a bare data set in `syntax`, then declared_lengths_fit.
OFCondition load_bounded(DcmDataset& data_set, const char* path, E_TransferSyntax syntax,
                         Uint32 max_read_length);

}  // namespace pacs::codecs
