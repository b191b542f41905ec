#include "codecs/bounded_load.h"

#include <dcmtk/dcmdata/dcstack.h>

#include <filesystem>

namespace pacs::codecs {
namespace {

makeOFConditionConst(kValueBeyondTheFile, OFM_dcmdata, 1001, OF_error,
                     "an element declares a value longer than the whole file");

// Checked even when the load failed: callers still read what a failed load left (the meta header
// of an HTJ2K object, say). A misfit empties `root`, so nothing can ask for its values.
template <typename Root>
OFCondition check_against_file(OFCondition loaded, Root& root, const char* path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const OFCondition fit = ec ? OFCondition(EC_InvalidStream) : declared_lengths_fit(root, size);
  if (fit.good()) return loaded;
  root.clear();
  return fit;
}

}  // namespace

OFCondition declared_lengths_fit(DcmObject& root, std::uintmax_t bytes) {
  DcmStack stack;
  // Bounded by the elements DCMTK parsed, each visited once.
  while (root.nextObject(stack, OFTrue).good()) {
    const DcmObject* object = stack.top();
    if (object == nullptr || !object->isLeaf()) continue;  // items and sequences hold no value
    const Uint32 length = object->getLengthField();
    if (length != DCM_UndefinedLength && length > bytes) return kValueBeyondTheFile;
  }
  return EC_Normal;
}

OFCondition load_bounded(DcmFileFormat& file, const char* path, Uint32 max_read_length,
                         E_FileReadMode mode) {
  return check_against_file(file.loadFile(path, EXS_Unknown, EGL_noChange, max_read_length, mode),
                            file, path);
}

OFCondition load_bounded(DcmDataset& data_set, const char* path, E_TransferSyntax syntax,
                         Uint32 max_read_length) {
  return check_against_file(data_set.loadFile(path, syntax, EGL_noChange, max_read_length),
                            data_set, path);
}

}  // namespace pacs::codecs
