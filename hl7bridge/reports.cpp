#include "hl7bridge/reports.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/ofstd/ofstd.h>

#include <cctype>
#include <memory>

#include "hl7bridge/hl7_to_dicom.h"
#include "storage/dicom_attributes.h"

namespace pacs::hl7 {

tl::expected<ReportRecord, MessageProblem> report_of(const Message& message) {
  auto problem = [](int code, std::string text, std::string segment, std::size_t field) {
    return tl::unexpected(
        MessageProblem{AckCode::AE, AckError{code, std::move(text), std::move(segment), 1, field}});
  };
  const Segment* obr = message.find("OBR");
  if (!obr) return problem(100, "the report has no OBR segment", "OBR", 0);
  ReportRecord r;
  r.placer_order = obr->value(2);
  r.filler_order = obr->value(3);
  r.accession_number = obr->value(18);
  r.status = obr->value(25);
  if (r.status != "P" && r.status != "F" && r.status != "C")
    return problem(103, "result status (OBR-25) '" + r.status + "' is not P, F or C", "OBR", 25);
  const auto [date, time] = dicom_date_and_time(obr->value(7));
  r.observed = date.empty() ? std::string() : date + time;
  // OBR-32 (NDL): the interpreter's name in the subcomponents of its first component.
  r.observer = normalized_person_name(obr->value(32, 1, 2) + "^" + obr->value(32, 1, 3));
  if (const Segment* msh = message.find("MSH")) r.observer_organization = msh->value(4);
  std::string text;
  for (const Segment* obx : message.all("OBX")) {
    const std::string type = obx->value(2), what = obx->value(3, 2);
    // The Study Instance UID as RAD-28 ("Study Instance UID") or RAD-128 (113014) carries it.
    if (what == "Study Instance UID" || obx->value(3) == "113014") {
      r.study_uid = obx->value(5);
      continue;
    }
    // ED: ^Application^PDF^Base64^<data> (source, type, subtype, encoding, data).
    if (type == "ED") {
      std::string subtype = obx->value(5, 3), encoding = obx->value(5, 4);
      for (char& ch : subtype) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      for (char& ch : encoding)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (subtype != "PDF" || encoding != "BASE64")
        return problem(102, "only Base64 PDF documents are taken (OBX-5 ED)", "OBX", 5);
      unsigned char* bytes = nullptr;
      const std::size_t length = OFStandard::decodeBase64(obx->value(5, 5).c_str(), bytes);
      const std::unique_ptr<unsigned char[]> owned(bytes);
      if (length < 5 || std::string_view(reinterpret_cast<const char*>(bytes), 5) != "%PDF-")
        return problem(102, "the ED data is not a Base64 PDF document", "OBX", 5);
      r.pdf.assign(reinterpret_cast<const char*>(bytes), length);
      continue;
    }
    if (type != "TX" && type != "FT" && type != "ST") continue;
    for (std::size_t i = 0; i < std::max<std::size_t>(1, obx->repetition_count(5)); ++i) {
      if (!text.empty()) text += '\n';
      text += obx->value(5, 1, 1, i);
    }
  }
  if (text.empty() && r.pdf.empty())
    return problem(101, "the report has no text (OBX TX/FT/ST) or PDF (OBX ED)", "OBX", 5);
  r.text = std::move(text);
  if (r.placer_order.empty() && r.filler_order.empty() && r.accession_number.empty() &&
      r.study_uid.empty())
    return problem(101, "the report names no order, accession number or study", "OBR", 3);
  return r;
}

}  // namespace pacs::hl7
