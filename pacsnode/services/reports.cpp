#include "pacsnode/services/reports.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <ctime>

#include "storage/model/log.h"

namespace pacs {
namespace {

std::string new_uid(const char* root) {
  char uid[100];
  return dcmGenerateUniqueIdentifier(uid, root);
}

void put(DcmItem& item, const DcmTagKey& tag, const std::string& value) {
  item.putAndInsertString(tag, value.c_str());
}

void put_code(DcmItem& item, const DcmTagKey& sequence, const char* value, const char* scheme,
              const char* meaning) {
  DcmItem* code = nullptr;
  item.findOrCreateSequenceItem(sequence, code, -2);
  put(*code, DCM_CodeValue, value);
  put(*code, DCM_CodingSchemeDesignator, scheme);
  put(*code, DCM_CodeMeaning, meaning);
}

// The current local time as DICOM DT to the second.
std::string now_dt() {
  char now[32];
  const std::time_t t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  std::strftime(now, sizeof now, "%Y%m%d%H%M%S", &local);
  return now;
}

// What both report documents hold: SOP Common, Patient and Study as the index knows them, a
// series of their own (Modality SR or DOC), and the equipment: pacsnode.
std::unique_ptr<DcmFileFormat> report_document(const StudyFacts& study, const char* sop_class,
                                               const std::string& sop_instance_uid,
                                               const char* modality, bool utf8) {
  auto ff = std::make_unique<DcmFileFormat>();
  DcmDataset& ds = *ff->getDataset();
  if (utf8) put(ds, DCM_SpecificCharacterSet, "ISO_IR 192");
  const std::string now = now_dt();
  put(ds, DCM_SOPClassUID, sop_class);
  put(ds, DCM_SOPInstanceUID, sop_instance_uid);
  put(ds, DCM_PatientName, study.patient_name);
  put(ds, DCM_PatientID, study.patient_id);
  put(ds, DCM_IssuerOfPatientID, study.issuer_of_patient_id);
  ds.insertEmptyElement(DCM_PatientBirthDate);
  ds.insertEmptyElement(DCM_PatientSex);
  put(ds, DCM_StudyInstanceUID, study.study_uid);
  put(ds, DCM_StudyDate, study.study_date.empty() ? now.substr(0, 8) : study.study_date);
  put(ds, DCM_StudyTime, study.study_date.empty() ? now.substr(8) : study.study_time);
  put(ds, DCM_AccessionNumber, study.accession_number);
  ds.insertEmptyElement(DCM_ReferringPhysicianName);
  ds.insertEmptyElement(DCM_StudyID);
  put(ds, DCM_Modality, modality);
  put(ds, DCM_SeriesInstanceUID, new_uid(SITE_SERIES_UID_ROOT));
  put(ds, DCM_SeriesNumber, "9001");
  put(ds, DCM_SeriesDescription, "Report");
  put(ds, DCM_Manufacturer, "pacsnode");
  put(ds, DCM_InstanceNumber, "1");
  return ff;
}

// A Basic Text SR holding the report's text as one finding of a Diagnostic Imaging Report.
std::unique_ptr<DcmFileFormat> basic_text_sr(const StudyFacts& study, const ReportRecord& report,
                                             const std::string& sop_instance_uid) {
  const bool non_ascii = std::any_of(report.text.begin(), report.text.end(),
                                     [](char ch) { return static_cast<unsigned char>(ch) > 0x7f; });
  auto ff = report_document(study, UID_BasicTextSRStorage, sop_instance_uid, "SR", non_ascii);
  DcmDataset& ds = *ff->getDataset();
  const std::string observed = report.observed.empty() ? now_dt() : report.observed;
  ds.insertEmptyElement(DCM_ReferencedPerformedProcedureStepSequence);
  // SR Document General.
  put(ds, DCM_ContentDate, observed.substr(0, 8));
  put(ds, DCM_ContentTime, observed.size() > 8 ? observed.substr(8) : "000000");
  put(ds, DCM_CompletionFlag, report.status == "P" ? "PARTIAL" : "COMPLETE");
  const bool verified = report.status == "F" || report.status == "C";
  put(ds, DCM_VerificationFlag, verified ? "VERIFIED" : "UNVERIFIED");
  if (verified) {
    DcmItem* observer = nullptr;
    ds.findOrCreateSequenceItem(DCM_VerifyingObserverSequence, observer, 0);
    put(*observer, DCM_VerifyingObserverName,
        report.observer.empty() ? "Unknown^Observer" : report.observer);
    // Type 1: the signer's institution, as the RIS names its facility.
    put(*observer, DCM_VerifyingOrganization,
        report.observer_organization.empty() ? "Unknown" : report.observer_organization);
    put(*observer, DCM_VerificationDateTime, observed);
    observer->insertEmptyElement(DCM_VerifyingObserverIdentificationCodeSequence);
  }
  DcmItem* request = nullptr;
  ds.findOrCreateSequenceItem(DCM_ReferencedRequestSequence, request, 0);
  put(*request, DCM_StudyInstanceUID, study.study_uid);
  put(*request, DCM_AccessionNumber, study.accession_number);
  put(*request, DCM_RequestedProcedureID, study.requested_procedure_id);
  put(*request, DCM_PlacerOrderNumberImagingServiceRequest, study.placer_order);
  put(*request, DCM_FillerOrderNumberImagingServiceRequest, study.filler_order);
  request->insertEmptyElement(DCM_RequestedProcedureDescription);
  request->insertEmptyElement(DCM_RequestedProcedureCodeSequence);
  request->insertEmptyElement(DCM_ReferencedStudySequence);
  ds.insertEmptyElement(DCM_PerformedProcedureCodeSequence);
  // Content: CONTAINER "Diagnostic Imaging Report" with the text as a finding.
  put(ds, DCM_ValueType, "CONTAINER");
  put_code(ds, DCM_ConceptNameCodeSequence, "18748-4", "LN", "Diagnostic Imaging Report");
  put(ds, DCM_ContinuityOfContent, "SEPARATE");
  DcmItem* finding = nullptr;
  ds.findOrCreateSequenceItem(DCM_ContentSequence, finding, 0);
  put(*finding, DCM_RelationshipType, "CONTAINS");
  put(*finding, DCM_ValueType, "TEXT");
  put_code(*finding, DCM_ConceptNameCodeSequence, "121071", "DCM", "Finding");
  put(*finding, DCM_TextValue, report.text);
  return ff;
}

// An Encapsulated PDF (PS3.3 A.45.1) of the report as the RIS sent it.
std::unique_ptr<DcmFileFormat> encapsulated_pdf(const StudyFacts& study, const ReportRecord& report,
                                                const std::string& sop_instance_uid) {
  auto ff = report_document(study, UID_EncapsulatedPDFStorage, sop_instance_uid, "DOC", false);
  DcmDataset& ds = *ff->getDataset();
  const std::string observed = report.observed.empty() ? now_dt() : report.observed;
  put(ds, DCM_ConversionType, "WSD");  // SC Equipment: a workstation made it
  put(ds, DCM_ContentDate, observed.substr(0, 8));
  put(ds, DCM_ContentTime, observed.size() > 8 ? observed.substr(8) : "000000");
  put(ds, DCM_AcquisitionDateTime, observed);
  put(ds, DCM_BurnedInAnnotation, "YES");
  put(ds, DCM_DocumentTitle, "Diagnostic Imaging Report");
  put_code(ds, DCM_ConceptNameCodeSequence, "18748-4", "LN", "Diagnostic Imaging Report");
  put(ds, DCM_MIMETypeOfEncapsulatedDocument, "application/pdf");
  // OB of even length: a PDF of odd length gets one padding byte (PS3.3 C.24.2.1).
  std::string bytes = report.pdf;
  if (bytes.size() % 2) bytes.push_back('\0');
  ds.putAndInsertUint8Array(DCM_EncapsulatedDocument, reinterpret_cast<const Uint8*>(bytes.data()),
                            bytes.size());
  return ff;
}

}  // namespace

void ReportService::remove_instance(const std::string& sop_instance_uid) {
  auto stored = index_.find_instance(sop_instance_uid);
  if (!stored || !*stored) return;
  if (auto forgot = index_.forget_instance(sop_instance_uid, (*stored)->relative_path); !forgot) {
    PACS_LOG(Warn) << "report SR " << sop_instance_uid
                   << " not removed: " << forgot.error().message;
    return;
  }
  blobs_.remove((*stored)->relative_path);
}

Result<ReportRecord> ReportService::store(ReportRecord report, const MessageRecord& message) {
  // The study: the one linked to the order (reconciliation may have linked a study whose UID is
  // not the one the order scheduled), else the order's, else the one with the accession number.
  if (report.study_uid.empty()) {
    auto order = index_.find_order(report.placer_order, report.filler_order);
    if (!order) return tl::unexpected(order.error());
    if (*order)
      report.study_uid =
          !(*order)->linked_study_uid.empty() ? (*order)->linked_study_uid : (*order)->study_uid;
  }
  if (report.study_uid.empty() && !report.accession_number.empty()) {
    FindQuery query;
    query.level = Level::Study;
    query.conditions.push_back(
        {Column::AccessionNumber, Condition::Kind::Equals, {report.accession_number}, false});
    auto found = index_.find(query, 1, [&](const FindRow& row) {
      report.study_uid = row.study_uid;
      return false;
    });
    if (!found) return tl::unexpected(found.error());
  }
  if (report.study_uid.empty())
    return fail(ErrorCode::NotFound, "no order or study for this report");
  auto facts = index_.study_facts(report.study_uid);
  if (!facts) return tl::unexpected(facts.error());
  if (!*facts) return fail(ErrorCode::NotFound, "study " + report.study_uid + " is not known");
  if (report.accession_number.empty()) report.accession_number = (*facts)->accession_number;

  // The SR first (durable, indexed), then the report that points to it with the message.
  report.sr_sop_uid = new_uid(SITE_INSTANCE_UID_ROOT);
  auto sr = report.pdf.empty() ? basic_text_sr(**facts, report, report.sr_sop_uid)
                               : encapsulated_pdf(**facts, report, report.sr_sop_uid);
  TempFile temp = ingest_.new_temp_file();
  if (sr->saveFile(temp.path().c_str(), EXS_LittleEndianExplicit).bad())
    return fail(ErrorCode::StorageFailure, "cannot write the report's SR");
  auto stored = ingest_.ingest(std::move(temp), std::nullopt);
  if (!stored) return tl::unexpected(stored.error());
  auto saved = index_.save_report(report, message);
  if (!saved) {
    remove_instance(report.sr_sop_uid);  // a copy of this message got there first
    return tl::unexpected(saved.error());
  }
  if (!saved->empty()) remove_instance(*saved);  // the version this one replaces
  return report;
}

}  // namespace pacs
