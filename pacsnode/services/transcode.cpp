#include "pacsnode/services/transcode.h"

#include "pacsnode/services/coercion.h"

#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>

namespace pacs {

bool can_produce(const std::string& stored, const std::string& wanted) {
  if (wanted == "*" || wanted == stored) return true;
  const DcmXfer from(stored.c_str()), to(wanted.c_str());
  if (from.getXfer() == EXS_Unknown || to.getXfer() == EXS_Unknown || to.isEncapsulated())
    return false;
  return from.isNotEncapsulated() || DcmCodecList::canChangeCoding(from.getXfer(), to.getXfer());
}

Result<std::unique_ptr<DcmFileFormat>> load_for_sending(const RetrieveItem& item,
                                                        const std::string& syntax) {
  auto ff = std::make_unique<DcmFileFormat>();
  if (ff->loadFile(item.file.c_str()).bad())
    return fail(ErrorCode::StorageFailure, "stored file cannot be read");
  if (item.patient_update) coerce_patient(*ff->getDataset(), *item.patient_update);
  const E_TransferSyntax target = DcmXfer(syntax.c_str()).getXfer();
  DcmDataset* dataset = ff->getDataset();
  if (dataset->chooseRepresentation(target, nullptr).bad() || !dataset->canWriteXfer(target))
    return fail(ErrorCode::InvalidObject, "cannot convert it to " + syntax);
  return ff;
}

}  // namespace pacs
