// The FHIR R4 read API against a real node: searches by the parameters the CapabilityStatement
// names, reads, and the errors (404, 400, 406, 405) as OperationOutcomes. That the resources are
// valid R4 and link up through an HL7 order and report is checked against the official schema by
// tests/browser/run-fhir.sh.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;
using testing::TestNode;

class FhirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_.start();
    // Two studies of one patient whose Patient ID is not a
    // FHIR id (a space): its Patient resource id is encoded.
    const auto files = testing::generate_corpus(
        dir_.path() / "corpus", {"--patients", "1", "--studies", "2", "--series", "2",
                                 "--instances", "2", "--rows", "16", "--columns", "16"});
    for (const auto& file : files) {
      DcmFileFormat ff;
      ASSERT_TRUE(ff.loadFile(file.c_str()).good());
      ff.getDataset()->putAndInsertString(DCM_PatientID, "MRN 0042");
      ASSERT_TRUE(ff.saveFile(file.c_str()).good());
    }
    ASSERT_EQ(testing::storescu(node_.dimse_port(), {(dir_.path() / "corpus").string()}).exit_code,
              0);
    accession_ = testing::value_of(files.front(), DCM_AccessionNumber);
    study_ = testing::value_of(files.front(), DCM_StudyInstanceUID);
  }

  json::object get(const std::string& path, int expected_status = 200,
                   std::vector<std::string> headers = {}) {
    const auto r = testing::http_request(node_.http_port(), "GET", "/fhir" + path, headers);
    EXPECT_EQ(r.status, expected_status) << path << ": " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/fhir+json; charset=utf-8") << path;
    const auto value = testing::parse_json(r.body);
    return value.is_object() ? value.as_object() : json::object{};
  }
  static std::size_t total(const json::object& bundle) {
    EXPECT_EQ(bundle.at("resourceType").as_string(), "Bundle");
    return static_cast<std::size_t>(bundle.at("total").as_int64());
  }

  TestNode node_{{.db = "sqlite", .extra_flags = {}}};
  testing::TempDir dir_;
  std::string accession_, study_;
};

TEST_F(FhirTest, SearchesReadsAndRefusalsAnswerAsFhirDoes) {
  EXPECT_EQ(get("/metadata").at("fhirVersion").as_string(), "4.0.1");

  const auto by_accession = get("/ImagingStudy?identifier=" + accession_);
  ASSERT_EQ(total(by_accession), 1u);
  const auto& study = by_accession.at("entry").as_array()[0].at("resource").as_object();
  EXPECT_EQ(study.at("id").as_string(), study_);
  EXPECT_EQ(study.at("numberOfSeries").as_int64(), 2);
  EXPECT_EQ(study.at("numberOfInstances").as_int64(), 4);
  const auto& series = study.at("series").as_array();
  ASSERT_EQ(series.size(), 2u);
  EXPECT_LT(series[0].at("number").as_int64(), series[1].at("number").as_int64()) << "in order";
  EXPECT_EQ(series[0].at("instance").as_array().size(), 2u);
  const std::string subject(study.at("subject").at("reference").as_string());
  ASSERT_EQ(subject.rfind("Patient/x", 0), 0u) << "an encoded id for 'MRN 0042': " << subject;

  EXPECT_EQ(total(get("/ImagingStudy?identifier=urn:dicom:uid|urn:oid:" + study_)), 1u);
  EXPECT_EQ(total(get("/ImagingStudy?patient=" + subject)), 2u);
  EXPECT_EQ(total(get("/ImagingStudy?subject=" + subject.substr(8))), 2u);
  // Paging: _count matches a page, a next link that moves _offset on, no total on a page of a
  // longer search, and the last page without a next link.
  const std::string fhir_root = "http://127.0.0.1:" + std::to_string(node_.http_port()) + "/fhir";
  auto link_of = [](const json::object& bundle, std::string_view relation) -> std::string {
    if (!bundle.contains("link")) return "";
    for (const auto& link : bundle.at("link").as_array())
      if (link.at("relation").as_string() == relation)
        return std::string(link.at("url").as_string());
    return "";
  };
  const auto first_page = get("/ImagingStudy?patient=" + subject + "&_count=1");
  ASSERT_EQ(first_page.at("entry").as_array().size(), 1u);
  EXPECT_FALSE(first_page.contains("total")) << "a page of a longer search has no total";
  EXPECT_EQ(link_of(first_page, "self"),
            fhir_root + "/ImagingStudy?patient=Patient%2F" + subject.substr(8) + "&_count=1");
  const std::string next = link_of(first_page, "next");
  ASSERT_EQ(next, link_of(first_page, "self") + "&_offset=1");
  const auto second_page = get(next.substr(fhir_root.size()));
  ASSERT_EQ(second_page.at("entry").as_array().size(), 1u);
  EXPECT_NE(second_page.at("entry").as_array()[0].at("resource").at("id"),
            first_page.at("entry").as_array()[0].at("resource").at("id"));
  EXPECT_EQ(link_of(second_page, "next"), "") << "the last page";
  EXPECT_FALSE(get("/ImagingStudy?_offset=5").contains("entry"));
  EXPECT_EQ(total(get("/ImagingStudy?patient=" + subject + "&_count=2")), 2u) << "one whole page";
  // _include: the patient and the endpoint the matches refer to, each once, after the matches.
  const auto included = get("/ImagingStudy?patient=" + subject +
                            "&_include=ImagingStudy:subject&_include=ImagingStudy:endpoint"
                            "&_include=ImagingStudy:unknown");
  EXPECT_EQ(total(included), 2u) << "included resources are not matches";
  std::vector<std::string> modes, types;
  for (const auto& entry : included.at("entry").as_array()) {
    modes.emplace_back(entry.at("search").at("mode").as_string());
    types.emplace_back(entry.at("resource").at("resourceType").as_string());
  }
  EXPECT_EQ(modes, (std::vector<std::string>{"match", "match", "include", "include"}));
  EXPECT_EQ(types,
            (std::vector<std::string>{"ImagingStudy", "ImagingStudy", "Patient", "Endpoint"}));
  EXPECT_EQ(included.at("entry").as_array()[2].at("fullUrl").as_string(),
            fhir_root + "/" + subject);
  EXPECT_EQ(get("/Patient?_offset=-1", 400).at("resourceType").as_string(), "OperationOutcome");
  EXPECT_EQ(get("/ImagingStudy?_offset=x", 400).at("resourceType").as_string(), "OperationOutcome");
  // The generator dates the two studies 2015-01-04 and 2015-01-21.
  EXPECT_EQ(total(get("/ImagingStudy?started=2015-01-04")), 1u);
  EXPECT_EQ(total(get("/ImagingStudy?started=ge2015-01-01&started=le2015-01-31")), 2u);
  EXPECT_EQ(total(get("/ImagingStudy?started=ge2015-01-05&started=le2015-01-20")), 0u);
  EXPECT_EQ(total(get("/ImagingStudy?started=gt2015-01-04")), 1u);
  EXPECT_EQ(total(get("/ImagingStudy?started=le2015-01-21&started=gt2015-01-20")), 1u);
  EXPECT_EQ(total(get("/ImagingStudy?started=lt2015-01-04")), 0u);
  EXPECT_EQ(total(get("/ImagingStudy?status=available&patient=" + subject)), 2u);
  EXPECT_EQ(total(get("/ImagingStudy?status=cancelled")), 0u);
  EXPECT_EQ(get("/ImagingStudy/" + study_).at("id").as_string(), study_);

  // The patient, read by its encoded id and found by identifier and name.
  const auto patient = get("/" + subject);
  EXPECT_EQ(patient.at("identifier").as_array()[0].at("value").as_string(), "MRN 0042");
  EXPECT_EQ(total(get("/Patient?identifier=MRN%200042")), 1u);
  const std::string family(patient.at("name").as_array()[0].at("family").as_string());
  EXPECT_EQ(total(get("/Patient?name=" + family.substr(0, 2))), 1u);

  EXPECT_EQ(get("/Endpoint/dicomweb").at("address").as_string(),
            "http://127.0.0.1:" + std::to_string(node_.http_port()) + "/dicom-web");

  // No order and no report for these studies.
  EXPECT_EQ(total(get("/DiagnosticReport?patient=" + subject)), 0u);
  EXPECT_EQ(total(get("/ServiceRequest?identifier=NO-SUCH-ORDER")), 0u);

  // Refusals, each an OperationOutcome.
  for (const char* path : {"/ImagingStudy/1.2.3.999", "/Patient/nobody", "/ServiceRequest/f-NONE",
                           "/DiagnosticReport/1.2.3.999", "/Endpoint/other", "/Observation/1"}) {
    EXPECT_EQ(get(path, 404).at("resourceType").as_string(), "OperationOutcome") << path;
  }
  EXPECT_EQ(get("/ImagingStudy?started=2015-13-45", 400).at("resourceType").as_string(),
            "OperationOutcome");
  EXPECT_EQ(get("/ImagingStudy?_count=0", 400).at("resourceType").as_string(), "OperationOutcome");
  get("/metadata", 406, {"Accept: application/fhir+xml"});
  get("/metadata?_format=xml", 406);
  EXPECT_EQ(testing::http_request(node_.http_port(), "POST", "/fhir/Patient", {}).status, 405);
}

}  // namespace
}  // namespace pacs
