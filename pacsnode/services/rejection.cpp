#include "pacsnode/services/rejection.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <array>
#include <string_view>

#include "storage/dicom_attributes.h"
#include "storage/model/clock.h"
#include "storage/model/log.h"

namespace pacs {
namespace {

// PS3.16 CID 7011 "Rejected for Quality Reasons" and the other IOCM titles (scheme DCM).
constexpr std::array<std::string_view, 4> kRejectionCodes = {"113001", "113037", "113038",
                                                             "113039"};

// The items of a sequence in `item` (none when it is absent). Bounded by the sequence's size.
std::vector<DcmItem*> items(DcmItem& item, const DcmTagKey& tag) {
  std::vector<DcmItem*> out;
  DcmItem* child = nullptr;
  for (long i = 0; item.findAndGetSequenceItem(tag, child, i).good() && child; ++i)
    out.push_back(child);
  return out;
}

}  // namespace

std::optional<RejectionNote> read_rejection_note(DcmItem& dataset) {
  if (attribute_text(dataset, DCM_SOPClassUID) != UID_KeyObjectSelectionDocumentStorage)
    return std::nullopt;
  const auto titles = items(dataset, DCM_ConceptNameCodeSequence);
  if (titles.size() != 1 || attribute_text(*titles[0], DCM_CodingSchemeDesignator) != "DCM")
    return std::nullopt;
  RejectionNote note{
      attribute_text(*titles[0], DCM_CodeValue), attribute_text(*titles[0], DCM_CodeMeaning), {}};
  bool rejection = false;
  for (const auto code : kRejectionCodes) rejection |= note.code_value == code;
  if (!rejection) return std::nullopt;
  for (DcmItem* study : items(dataset, DCM_CurrentRequestedProcedureEvidenceSequence))
    for (DcmItem* series : items(*study, DCM_ReferencedSeriesSequence))
      for (DcmItem* sop : items(*series, DCM_ReferencedSOPSequence))
        note.instances.push_back(
            {.level = RemovalLevel::Instance,
             .study_uid = attribute_text(*study, DCM_StudyInstanceUID),
             .series_uid = attribute_text(*series, DCM_SeriesInstanceUID),
             .sop_instance_uid = attribute_text(*sop, DCM_ReferencedSOPInstanceUID)});
  return note;
}

Result<void> RejectionNotes::apply(const std::filesystem::path& file,
                                   const std::string& sop_class_uid, const std::string& sender) {
  if (sop_class_uid != UID_KeyObjectSelectionDocumentStorage) return {};
  DcmFileFormat ff;
  if (ff.loadFile(file.c_str()).bad())
    return fail(ErrorCode::StorageFailure, "cannot read the stored key object " + file.string());
  const auto note = read_rejection_note(*ff.getDataset());
  if (!note) return {};
  const RemovalOrder order{
      .reason = "rejected: " + note->code_meaning + " (" + note->code_value + ")",
      .actor = sender,
      .purge_after_ms =
          wall_clock_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(grace_).count()};
  std::size_t rejected = 0;
  for (const RemovalTarget& instance : note->instances) {
    auto removed = remover_.remove(instance, order);
    if (removed) {
      ++rejected;
    } else if (removed.error().code != ErrorCode::NotFound &&
               removed.error().code != ErrorCode::InvalidArgument) {
      return tl::unexpected(removed.error());
    }
  }
  PACS_LOG(Info) << "rejection note (" << note->code_value << ") from " << sender << ": "
                 << rejected << " of " << note->instances.size()
                 << " referenced instance(s) rejected";
  return {};
}

}  // namespace pacs
