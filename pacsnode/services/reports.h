// Reports from the RIS: each is kept as the study's current report and carried into the study as
// a DICOM Basic Text SR (PS3.3 A.35.1), or an Encapsulated PDF when the RIS sent a PDF, so DICOMweb
// viewers and DIMSE workstations see it beside the images. A later version (a correction) replaces
// the earlier one and its instance.
#pragma once

#include "pacsnode/services/ingest.h"
#include "storage/blob_store.h"
#include "storage/index.h"

namespace pacs {

class ReportService {
 public:
  ReportService(Index& index, IngestService& ingest, BlobStore& blobs)
      : index_(index), ingest_(ingest), blobs_(blobs) {}

  // Finds the study (the order's Study Instance UID, else the study with the accession number),
  // stores the SR in it, and saves the report with the message that carried it. NotFound when
  // neither the order nor the study is known; Duplicate when the message was applied before.
  Result<ReportRecord> store(ReportRecord report, const MessageRecord& message);

 private:
  void remove_instance(const std::string& sop_instance_uid);

  Index& index_;
  IngestService& ingest_;
  BlobStore& blobs_;
};

}  // namespace pacs
