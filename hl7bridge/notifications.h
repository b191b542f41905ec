// The HL7 messages pacsnode sends on its own: that a study is available (ORU^R01, or an order
// status, with the study's URLs) and that a modality reported its procedure's progress (ORM^O01
// SC with ORC-5 IP/CM/DC, IHE RAD-3/RAD-7 style).
#pragma once

#include <string>

#include "storage/model/orders.h"

namespace pacs::hl7 {

struct NotificationOptions {
  std::string application = "PACSNODE", facility;  // MSH-3/MSH-4
  // The DICOMweb root as the receivers reach it (e.g. http://pacs.example:8080/dicom-web); the
  // study's WADO-RS URL is below it.
  std::string dicomweb_root;
  // A viewer launch URL with {study} for the Study Instance UID (and {accession}); empty: none.
  std::string viewer_url;
  bool study_complete_as_orm = false;  // ORM^O01 SC/CM instead of ORU^R01
};

// The study's WADO-RS URL and its viewer URL (empty without a template).
std::string study_url(const NotificationOptions& options, const StudyFacts& study);
std::string viewer_url(const NotificationOptions& options, const StudyFacts& study);

// `status` is the MPPS status (IN PROGRESS, COMPLETED, DISCONTINUED).
std::string procedure_status_message(const NotificationOptions& options, const StudyFacts& study,
                                     const std::string& status, const std::string& control_id,
                                     const std::string& timestamp);
std::string study_available_message(const NotificationOptions& options, const StudyFacts& study,
                                    const std::string& control_id, const std::string& timestamp);

}  // namespace pacs::hl7
