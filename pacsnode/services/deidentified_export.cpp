#include "pacsnode/services/deidentified_export.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <vector>

#include "pacsnode/services/transcode.h"
#include "security/audit_trail.h"
#include "storage/model/log.h"

namespace pacs {
namespace {

std::string text_of(DcmDataset& dataset, const DcmTagKey& tag) {
  OFString value;
  dataset.findAndGetOFString(tag, value);
  return value.c_str();
}

struct Copy {
  TempFile file;
  RetrieveItem item;  // the copy, as it is sent
  const RetrieveItem* stored = nullptr;
  std::string patient_id, study_uid;  // the stored ones, for the audit trail
};

Result<Copy> copy_for_sending(const deid::Deidentifier& deidentifier, const deid::Options& options,
                              const RetrieveItem& item, BlobStore& blobs) {
  // A syntax DCMTK cannot write (HTJ2K) goes out uncompressed, as the sender would send it.
  const bool writable = DcmXfer(item.transfer_syntax.c_str()).getXfer() != EXS_Unknown;
  const std::string syntax =
      writable ? item.transfer_syntax : std::string(UID_LittleEndianExplicitTransferSyntax);
  auto loaded = load_for_sending(item, syntax);
  if (!loaded) return tl::unexpected(loaded.error());
  DcmFileFormat& ff = **loaded;
  const std::string patient_id = text_of(*ff.getDataset(), DCM_PatientID);
  const std::string study_uid = text_of(*ff.getDataset(), DCM_StudyInstanceUID);
  if (auto ok = deidentifier.apply(ff, options); !ok) return tl::unexpected(ok.error());
  Copy copy{blobs.new_temp_file(), item, &item, patient_id, study_uid};
  const OFCondition saved =
      ff.saveFile(copy.file.path().c_str(), DcmXfer(syntax.c_str()).getXfer(), EET_ExplicitLength,
                  EGL_recalcGL, EPD_noChange, 0, 0, EWM_createNewMeta);
  if (saved.bad())
    return fail(ErrorCode::StorageFailure,
                std::string("cannot write the de-identified copy: ") + saved.text());
  DcmDataset& out = *ff.getDataset();
  copy.item.sop_instance_uid = text_of(out, DCM_SOPInstanceUID);
  copy.item.study_uid = text_of(out, DCM_StudyInstanceUID);
  copy.item.series_uid = text_of(out, DCM_SeriesInstanceUID);
  copy.item.transfer_syntax = syntax;
  copy.item.file = copy.file.path();
  copy.item.metadata_cache.clear();
  copy.item.patient_update.reset();
  return copy;
}

}  // namespace

Result<std::unique_ptr<DcmFileFormat>> deidentified_copy(const deid::Deidentifier& deidentifier,
                                                         const deid::Options& options,
                                                         const RetrieveItem& item,
                                                         const std::string& syntax) {
  auto loaded = load_for_sending(item, syntax);
  if (!loaded) return tl::unexpected(loaded.error());
  if (auto ok = deidentifier.apply(**loaded, options); !ok) return tl::unexpected(ok.error());
  return loaded;
}

SendToDestination deidentifying(SendToDestination send, DeidentificationOf deidentification_of,
                                std::shared_ptr<const deid::Deidentifier> deidentifier,
                                BlobStore& blobs, std::string aet) {
  return [send = std::move(send), deidentification_of = std::move(deidentification_of),
          deidentifier = std::move(deidentifier), &blobs,
          aet = std::move(aet)](const std::string& destination,
                                const std::vector<RetrieveItem>& items, std::string& error) {
    const auto options = deidentification_of(destination);
    if (!options) return send(destination, items, error);
    std::vector<Copy> copies;
    std::vector<std::string> failed;
    std::string refused;
    for (const RetrieveItem& item : items) {
      auto copy = copy_for_sending(*deidentifier, *options, item, blobs);
      if (!copy) {
        refused = item.sop_instance_uid + " not de-identified: " + copy.error().message;
        PACS_LOG(Warn) << "forwarding to " << destination << ": " << refused;
        failed.push_back(item.sop_instance_uid);
        continue;
      }
      copies.push_back(std::move(*copy));
    }
    std::vector<RetrieveItem> sendable;
    for (const Copy& copy : copies) sendable.push_back(copy.item);
    std::vector<std::string> not_sent;
    if (!sendable.empty()) not_sent = send(destination, sendable, error);
    // The queue and the trail know the instances as stored.
    audit::TransferTally exported;
    for (const Copy& copy : copies) {
      const bool arrived =
          std::find(not_sent.begin(), not_sent.end(), copy.item.sop_instance_uid) == not_sent.end();
      if (arrived)
        exported.add(copy.study_uid, copy.patient_id, copy.stored->sop_class_uid);
      else
        failed.push_back(copy.stored->sop_instance_uid);
    }
    if (!refused.empty()) error = error.empty() ? refused : error + "; " + refused;
    if (!exported.empty() || !failed.empty())
      audit::record(
          audit::instances_exported(failed.empty() ? 0 : 4, audit::node_participant(aet, true),
                                    audit::remote(destination, "", false), exported.studies(),
                                    "de-identified: " + deid::to_string(*options)));
    return failed;
  };
}

}  // namespace pacs
