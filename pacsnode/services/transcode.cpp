#include "pacsnode/services/transcode.h"

#include "pacsnode/services/coercion.h"

#include "codecs/htj2k.h"
#include "codecs/lossy_history.h"
#include "codecs/registry.h"

#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

namespace pacs {

bool can_produce(const std::string& stored, const std::string& wanted) {
  if (wanted == "*" || wanted == stored) return true;
  const DcmXfer from(codecs::decoding_syntax(stored)), to(wanted.c_str());
  if (from.getXfer() == EXS_Unknown || to.getXfer() == EXS_Unknown) return false;
  // Compressed data is decoded to explicit little endian first, then encoded as asked.
  const bool readable = from.isNotEncapsulated() ||
                        DcmCodecList::canChangeCoding(from.getXfer(), EXS_LittleEndianExplicit);
  if (!readable) return false;
  return to.isNotEncapsulated() ||
         DcmCodecList::canChangeCoding(EXS_LittleEndianExplicit, to.getXfer());
}

const std::vector<std::string>& lossless_compressed_syntaxes() {
  // The order a sender proposes them in: best compression of the lossless ones first.
  static const std::vector<std::string> kSyntaxes{
      UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEGLSLosslessTransferSyntax,
      UID_JPEGProcess14SV1TransferSyntax, UID_RLELosslessTransferSyntax};
  return kSyntaxes;
}

Result<void> convert(DcmDataset& dataset, const std::string& stored, const std::string& syntax) {
  const DcmXfer to(syntax.c_str());
  const E_TransferSyntax target = to.getXfer();
  if (target == EXS_Unknown) return fail(ErrorCode::InvalidObject, "unknown syntax " + syntax);
  if (codecs::is_htj2k(stored)) {
    // Its codestreams sit under a JPEG 2000 label (codecs/htj2k.h): decoded, and the label
    // dropped, so that no conversion takes them for JPEG 2000 codestreams.
    if (dataset.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad())
      return fail(ErrorCode::InvalidObject, "cannot decode its HTJ2K pixel data");
    dataset.removeAllButCurrentRepresentations();
    dataset.updateOriginalXfer();
  }
  // DCMTK's codecs convert between a compressed and an uncompressed representation only: a
  // compressed object goes to another compressed syntax through explicit little endian.
  const DcmXfer from(dataset.getOriginalXfer());
  if (to.isEncapsulated() && from.isEncapsulated() && from.getXfer() != target &&
      dataset.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad())
    return fail(ErrorCode::InvalidObject, "cannot decode its pixel data");
  if (OFCondition c =
          dataset.chooseRepresentation(target, codecs::representation_parameter(target));
      c.bad())
    return fail(ErrorCode::InvalidObject,
                std::string("cannot encode it as ") + syntax + ": " + c.text());
  if (!dataset.canWriteXfer(target))
    return fail(ErrorCode::InvalidObject, "cannot write it as " + syntax);
  codecs::complete_lossy_history(dataset, target);
  return {};
}

Result<std::unique_ptr<DcmFileFormat>> load_for_sending(const RetrieveItem& item,
                                                        const std::string& syntax) {
  auto ff = std::make_unique<DcmFileFormat>();
  if (codecs::load_file(*ff, item.file.c_str()).bad())
    return fail(ErrorCode::StorageFailure, "stored file cannot be read");
  if (item.patient_update) coerce_patient(*ff->getDataset(), *item.patient_update);
  if (syntax == "*" || syntax == item.transfer_syntax) {
    // DCMTK would write an HTJ2K data set under the JPEG 2000 label it was read with.
    if (item.patient_update && codecs::is_htj2k(item.transfer_syntax))
      return fail(ErrorCode::InvalidObject,
                  "an HTJ2K object with changed attributes goes out in another syntax only");
    return ff;
  }
  if (auto converted = convert(*ff->getDataset(), item.transfer_syntax, syntax); !converted)
    return tl::unexpected(converted.error());
  return ff;
}

}  // namespace pacs
