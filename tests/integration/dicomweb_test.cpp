// DICOMweb over real HTTP (curl) against the real node, for both index backends: QIDO-RS,
// WADO-RS, STOW-RS, their error paths, and the round trip with DIMSE.
#include <arpa/inet.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;
using testing::TestNode;

const char* kDicomJson = "application/dicom+json";

std::string string_of(const json::value& dataset, const char* tag) {
  const auto& object = dataset.as_object();
  if (!object.contains(tag) || !object.at(tag).as_object().contains("Value")) return {};
  const auto& first = object.at(tag).at("Value").as_array().at(0);
  if (first.is_string()) return std::string(first.as_string());
  if (first.is_object() && first.as_object().contains("Alphabetic"))
    return std::string(first.at("Alphabetic").as_string());
  if (first.is_int64()) return std::to_string(first.as_int64());
  return json::serialize(first);
}

class DicomWebTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string url;
    PACS_REQUIRE_BACKEND(GetParam(), url);
    node_ = std::make_unique<TestNode>(
        TestNode::Options{.db = url, .extra_flags = {"--http-cors-origin", "http://viewer.test"}});
    node_->start();
    // 2 patients x 2 studies x 2 series x 2 instances, CT and MR.
    files_ = testing::generate_corpus(
        corpus_.path() / "in", {"--patients", "2", "--studies", "2", "--series", "2", "--instances",
                                "2", "--rows", "32", "--columns", "32", "--modality", "mixed"});
    for (const auto& f : files_) by_sop_[testing::identity_of(f).sop_instance_uid] = f;
  }

  void store_all_with_dimse() {
    ASSERT_EQ(testing::storescu(node_->dimse_port(), {(corpus_.path() / "in").string()}).exit_code,
              0);
  }

  testing::HttpResponse get(const std::string& path, std::vector<std::string> headers = {}) {
    return testing::http_request(node_->http_port(), "GET", "/dicom-web" + path, headers);
  }

  testing::HttpResponse stow(const std::string& path, const std::vector<fs::path>& files,
                             const std::string& content_type = {}) {
    const auto body = corpus_.path() / ("stow" + std::to_string(counter_++));
    testing::write_multipart(body, "pacs-test-boundary-0123456789", files);
    return testing::http_request(
        node_->http_port(), "POST", "/dicom-web" + path,
        {"Content-Type: " + (content_type.empty()
                                 ? "multipart/related; type=\"application/dicom\"; "
                                   "boundary=pacs-test-boundary-0123456789"
                                 : content_type),
         "Accept: application/dicom+json"},
        body);
  }

  json::array json_array(const testing::HttpResponse& r) {
    EXPECT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.header("content-type"), kDicomJson);
    auto value = testing::parse_json(r.body);
    EXPECT_TRUE(value.is_array());
    for (const auto& dataset : value.as_array())
      for (const auto& problem : testing::dicom_json_problems(dataset)) ADD_FAILURE() << problem;
    return value.as_array();
  }

  testing::TempDir corpus_;
  std::vector<fs::path> files_;
  std::map<std::string, fs::path> by_sop_;
  std::unique_ptr<TestNode> node_;
  int counter_ = 0;
};

TEST_P(DicomWebTest, QidoSearchesEveryLevelWithTheCFindMatchingRules) {
  store_all_with_dimse();
  auto studies = json_array(get("/studies"));
  EXPECT_EQ(studies.size(), 4u);
  for (const auto& s : studies) {
    EXPECT_FALSE(string_of(s, "0020000D").empty());
    EXPECT_EQ(string_of(s, "00201208"), "4") << json::serialize(s);  // instances in the study
    EXPECT_TRUE(s.as_object().contains("00100010"));
    EXPECT_EQ(s.at("00100010").at("vr").as_string(), "PN");
    EXPECT_NE(string_of(s, "00081190").find("/dicom-web/studies/"), std::string::npos);
    EXPECT_FALSE(s.as_object().contains("00080052")) << "no Query/Retrieve Level in QIDO";
  }
  const std::string patient = testing::value_of(files_[0], DCM_PatientID);
  auto by_patient = json_array(get("/studies?PatientID=" + patient));
  ASSERT_EQ(by_patient.size(), 2u);
  EXPECT_EQ(string_of(by_patient[0], "00100020"), patient);
  // The same key by tag, a wildcard on the name, a UID list, a date range.
  EXPECT_EQ(json_array(get("/studies?00100020=" + patient)).size(), 2u);
  const std::string name = testing::value_of(files_[0], DCM_PatientName);
  EXPECT_EQ(json_array(get("/studies?PatientName=" + name.substr(0, 3) + "*")).size(),
            json_array(get("/studies?PatientName=" + name.substr(0, 3) + "*&fuzzymatching=false"))
                .size());
  const std::string study_a = testing::value_of(files_[0], DCM_StudyInstanceUID);
  const std::string study_b = testing::value_of(files_.back(), DCM_StudyInstanceUID);
  EXPECT_EQ(json_array(get("/studies?StudyInstanceUID=" + study_a + "," + study_b)).size(), 2u);
  EXPECT_EQ(json_array(get("/studies?StudyDate=19000101-19000102")).size(), 0u);
  EXPECT_EQ(json_array(get("/studies?StudyDate=19000101-")).size(), 4u);

  // Series and instances, within a study and across studies.
  auto series = json_array(get("/studies/" + study_a + "/series"));
  EXPECT_EQ(series.size(), 2u);
  for (const auto& s : series) EXPECT_FALSE(s.as_object().contains("00100010")) << "no study keys";
  auto ct_series = json_array(get("/series?Modality=CT"));
  for (const auto& s : ct_series) {
    EXPECT_EQ(string_of(s, "00080060"), "CT");
    EXPECT_TRUE(s.as_object().contains("0020000D")) << "study keys across studies";
  }
  EXPECT_EQ(json_array(get("/studies/" + study_a + "/instances")).size(), 4u);
  const std::string series_a = testing::value_of(files_[0], DCM_SeriesInstanceUID);
  auto instances = json_array(get("/studies/" + study_a + "/series/" + series_a + "/instances"));
  ASSERT_EQ(instances.size(), 2u);
  EXPECT_EQ(string_of(instances[0], "00280010"), "32");  // Rows, a number
  EXPECT_EQ(json_array(get("/instances")).size(), 16u);

  // includefield, limit and offset (pages in a stable order).
  auto with_description = json_array(get("/studies?includefield=StudyDescription&limit=1"));
  ASSERT_EQ(with_description.size(), 1u);
  EXPECT_TRUE(with_description[0].as_object().contains("00081030"));
  auto page1 = json_array(get("/studies?limit=2"));
  auto page2 = json_array(get("/studies?limit=2&offset=2"));
  ASSERT_EQ(page1.size(), 2u);
  ASSERT_EQ(page2.size(), 2u);
  std::set<std::string> seen;
  for (const auto* page : {&page1, &page2})
    for (const auto& s : *page) seen.insert(string_of(s, "0020000D"));
  EXPECT_EQ(seen.size(), 4u);
  auto all = json_array(get("/studies?includefield=all&limit=1"));
  EXPECT_TRUE(all[0].as_object().contains("00081030"));

  // Warning for fuzzy matching, which is not offered.
  auto fuzzy = get("/studies?PatientName=x*&fuzzymatching=true");
  EXPECT_EQ(fuzzy.status, 200);
  EXPECT_NE(fuzzy.header("warning").find("fuzzymatching"), std::string::npos);
}

TEST_P(DicomWebTest, QidoRefusesWhatItCannotUnderstand) {
  for (const char* bad : {"/studies?NoSuchAttribute=1", "/studies?limit=-1", "/studies?offset=x",
                          "/studies?includefield=Nonsense", "/studies?fuzzymatching=maybe",
                          "/studies?PatientName%ZZ=1", "/studies?PatientID.PatientName=x"}) {
    auto r = get(bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_NE(testing::parse_json(r.body).as_object().at("error").as_string().size(), 0u) << bad;
  }
  EXPECT_EQ(get("/nothing").status, 404);
  EXPECT_EQ(testing::http_request(node_->http_port(), "GET", "/elsewhere").status, 404);
  EXPECT_EQ(testing::http_request(node_->http_port(), "DELETE", "/dicom-web/studies").status, 405);
}

// Hostile paths and query values (docs/robustness.md): a path segment must be one UID, and query
// values are only ever values, whatever SQL they spell.
TEST_P(DicomWebTest, PathsThatAreNotUidsAndSqlInQueryValuesGetNowhere) {
  store_all_with_dimse();
  const std::string study = testing::value_of(files_[0], DCM_StudyInstanceUID);
  for (const std::string& bad : std::vector<std::string>{
           "/studies/*", "/studies/*/metadata", "/studies/" + study + "%5C1.2.3",
           "/studies/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "/studies/1.2.03/metadata",
           "/studies/" + study + "/series/%FF%FE", "/studies/" + study + "/series/%3F/instances"}) {
    auto r = get(bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_NE(r.body.find("not a UID"), std::string::npos) << bad << ": " << r.body;
    testing::parse_json(r.body);  // valid JSON even for bytes that are not UTF-8
  }
  for (const char* sql : {"/studies?PatientID=%27%20OR%20%271%27%3D%271",
                          "/studies?PatientName=x%27%3B%20DROP%20TABLE%20instances%3B--",
                          "/studies?AccessionNumber=%25", "/studies?PatientName=%25%25%25"}) {
    auto r = get(sql);
    EXPECT_EQ(r.status, 200) << sql << ": " << r.body;  // 200 with no match, not an error
    EXPECT_TRUE(testing::parse_json(r.body).as_array().empty()) << sql << ": " << r.body;
  }
  EXPECT_EQ(node_->open_index()->counts()->instances, static_cast<std::int64_t>(files_.size()));
  EXPECT_EQ(get("/studies/" + study + "/metadata").status, 200);
}

TEST_P(DicomWebTest, WadoRetrievesByteIdenticalInstancesAndMetadata) {
  store_all_with_dimse();
  const std::string study = testing::value_of(files_[0], DCM_StudyInstanceUID);
  for (const std::string accept :
       {"multipart/related; type=\"application/dicom\"; transfer-syntax=*",
        "multipart/related; type=application/dicom", ""}) {
    auto r =
        get("/studies/" + study, accept.empty() ? std::vector<std::string>{}
                                                : std::vector<std::string>{"Accept: " + accept});
    ASSERT_EQ(r.status, 200) << accept << r.body;
    const std::string content_type = r.header("content-type");
    EXPECT_NE(content_type.find("multipart/related"), std::string::npos);
    EXPECT_NE(content_type.find("type=\"application/dicom\""), std::string::npos);
    std::string why;
    auto parts = testing::parse_multipart_strict(r.body, testing::boundary_of(content_type), why);
    ASSERT_TRUE(parts) << why;
    ASSERT_EQ(parts->size(), 4u);
    for (const auto& part : *parts) {
      EXPECT_NE(part.headers.at("content-type").find("application/dicom; transfer-syntax="),
                std::string::npos);
      const auto file = corpus_.path() / "part.dcm";
      std::ofstream(file, std::ios::binary) << part.body;
      const auto id = testing::identity_of(file);
      ASSERT_TRUE(by_sop_.count(id.sop_instance_uid));
      EXPECT_TRUE(testing::dataset_bytes(file) ==
                  testing::dataset_bytes(by_sop_[id.sop_instance_uid]));
      EXPECT_NE(part.headers.at("content-location").find(id.sop_instance_uid), std::string::npos);
    }
  }
  // Series and instance level.
  const std::string series = testing::value_of(files_[0], DCM_SeriesInstanceUID);
  const std::string sop = testing::identity_of(files_[0]).sop_instance_uid;
  auto one = get("/studies/" + study + "/series/" + series + "/instances/" + sop);
  ASSERT_EQ(one.status, 200);
  std::string why;
  EXPECT_EQ(testing::parse_multipart_strict(one.body,
                                            testing::boundary_of(one.header("content-type")), why)
                ->size(),
            1u);
  // Metadata: one object per instance, pixel data by reference.
  auto metadata = json_array(get("/studies/" + study + "/series/" + series + "/metadata"));
  ASSERT_EQ(metadata.size(), 2u);
  for (const auto& m : metadata) {
    EXPECT_FALSE(string_of(m, "00080018").empty());
    ASSERT_TRUE(m.as_object().contains("7FE00010"));
    EXPECT_NE(
        std::string(m.at("7FE00010").at("BulkDataURI").as_string()).find("/bulkdata/7FE00010"),
        std::string::npos);
    EXPECT_FALSE(m.as_object().contains("00020010")) << "no meta header in metadata";
  }
  // Errors: unknown UIDs, unacceptable media types, syntaxes we cannot produce.
  EXPECT_EQ(get("/studies/1.2.3.4.5.6.7").status, 404);
  EXPECT_EQ(get("/studies/" + study, {"Accept: image/png"}).status, 406);
  EXPECT_EQ(get("/studies/" + study + "/metadata", {"Accept: application/dicom+xml"}).status, 406);
  // MPEG-2 video: no codec writes it.
  EXPECT_EQ(get("/studies/" + study, {"Accept: multipart/related; type=\"application/dicom\"; "
                                      "transfer-syntax=1.2.840.10008.1.2.4.100"})
                .status,
            406);
  EXPECT_EQ(get("/studies/" + study + "/frames/1").status, 501);
}

// Metadata is cached per instance after the first request; later answers come from the cache,
// name bulk data under the URL the client used, and a cache cut short (a power cut: caches are not
// synced) is rebuilt rather than served.
TEST_P(DicomWebTest, MetadataComesFromItsCacheAndATornCacheIsRebuilt) {
  store_all_with_dimse();
  const std::string study = testing::value_of(files_[0], DCM_StudyInstanceUID);
  const std::string path = "/studies/" + study + "/metadata";
  const auto cold = get(path);
  ASSERT_EQ(cold.status, 200) << cold.body;
  ASSERT_EQ(json_array(cold).size(), 4u);

  // The caches are written after the answer went out.
  std::vector<fs::path> caches;
  for (int attempt = 0; attempt < 100 && caches.size() < 4; ++attempt) {
    if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    caches.clear();
    std::error_code ec;
    for (const auto& entry : fs::recursive_directory_iterator(node_->data_dir() / "cache", ec))
      if (entry.is_regular_file() && entry.path().extension() == ".json")
        caches.push_back(entry.path());
  }
  ASSERT_EQ(caches.size(), 4u) << "one cache per instance of the study";
  EXPECT_EQ(get(path).body, cold.body) << "served from the cache, the same answer";

  // Another host name in the request: the cached bulk data URIs follow it.
  const auto other = testing::http_request(node_->http_port(), "GET", "/dicom-web" + path,
                                           {"Host: viewer.example:8042"});
  ASSERT_EQ(other.status, 200);
  for (const auto& m : json_array(other))
    EXPECT_EQ(std::string(m.at("7FE00010").at("BulkDataURI").as_string())
                  .rfind("http://viewer.example:8042/dicom-web/studies/" + study, 0),
              0u);
  // A host that could break the JSON is not echoed.
  const auto hostile =
      testing::http_request(node_->http_port(), "GET", "/dicom-web" + path, {"Host: x\"y"});
  ASSERT_EQ(hostile.status, 200);
  EXPECT_EQ(json_array(hostile).size(), 4u);

  // Torn caches: one empty, one cut in the middle.
  fs::resize_file(caches[0], 0);
  fs::resize_file(caches[1], fs::file_size(caches[1]) / 2);
  EXPECT_EQ(get(path).body, cold.body) << "torn caches rebuilt from the stored files";
  for (int attempt = 0; attempt < 100 && fs::file_size(caches[0]) == 0; ++attempt)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GT(fs::file_size(caches[0]), 2u) << "and cached again";
}

TEST_P(DicomWebTest, FramesBulkDataRenderedAndWadoUri) {
  store_all_with_dimse();
  const fs::path file = files_[0];
  const std::string study = testing::value_of(file, DCM_StudyInstanceUID);
  const std::string series = testing::value_of(file, DCM_SeriesInstanceUID);
  const std::string sop = testing::identity_of(file).sop_instance_uid;
  const std::string instance = "/studies/" + study + "/series/" + series + "/instances/" + sop;
  DcmFileFormat original;
  ASSERT_TRUE(original.loadFile(file.c_str()).good());
  const Uint8* pixels = nullptr;
  unsigned long pixel_bytes = 0;
  ASSERT_TRUE(
      original.getDataset()->findAndGetUint8Array(DCM_PixelData, pixels, &pixel_bytes).good());
  const std::string expected_frame(reinterpret_cast<const char*>(pixels), pixel_bytes);

  // Frames as OHIF-style viewers ask for them.
  for (const std::string accept :
       {"multipart/related; type=\"application/octet-stream\"; transfer-syntax=*",
        "multipart/related; type=application/octet-stream", ""}) {
    auto r =
        get(instance + "/frames/1", accept.empty() ? std::vector<std::string>{}
                                                   : std::vector<std::string>{"Accept: " + accept});
    ASSERT_EQ(r.status, 200) << accept << r.body;
    std::string why;
    auto parts = testing::parse_multipart_strict(
        r.body, testing::boundary_of(r.header("content-type")), why);
    ASSERT_TRUE(parts) << why;
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_TRUE(parts->front().body == expected_frame) << "frame bytes differ";
    EXPECT_NE(parts->front().headers.at("content-type").find("application/octet-stream"),
              std::string::npos);
  }
  EXPECT_EQ(get(instance + "/frames/0").status, 400);
  EXPECT_EQ(get(instance + "/frames/1,1").status, 400);
  EXPECT_EQ(get(instance + "/frames/2").status, 404);
  EXPECT_EQ(get(instance + "/frames/1", {"Accept: image/jphc"}).status, 406);  // HTJ2K: not made

  // The BulkDataURI that /metadata gives for pixel data resolves to the same bytes.
  auto metadata = json_array(get(instance + "/metadata"));
  const std::string uri(metadata[0].at("7FE00010").at("BulkDataURI").as_string());
  const std::string path = uri.substr(uri.find("/dicom-web") + std::string("/dicom-web").size());
  auto bulk = get(path);
  ASSERT_EQ(bulk.status, 200) << bulk.body;
  std::string why;
  auto bulk_parts = testing::parse_multipart_strict(
      bulk.body, testing::boundary_of(bulk.header("content-type")), why);
  ASSERT_TRUE(bulk_parts) << why;
  EXPECT_TRUE(bulk_parts->front().body == expected_frame);
  EXPECT_EQ(get(instance + "/bulkdata/XYZ").status, 400);

  // Rendered images and thumbnails.
  auto jpeg = get(instance + "/rendered");
  ASSERT_EQ(jpeg.status, 200) << jpeg.body;
  EXPECT_EQ(jpeg.header("content-type"), "image/jpeg");
  EXPECT_EQ(jpeg.body.substr(0, 2), "\xff\xd8");
  auto png = get(instance + "/rendered?viewport=16,16&window=100,400", {"Accept: image/png"});
  ASSERT_EQ(png.status, 200) << png.body;
  EXPECT_EQ(png.body.substr(1, 3), "PNG");
  EXPECT_EQ(get(instance + "/frames/1/rendered?quality=50").status, 200);
  EXPECT_EQ(get("/studies/" + study + "/thumbnail").header("content-type"), "image/jpeg");
  EXPECT_EQ(get(instance + "/rendered?quality=0").status, 400);
  EXPECT_EQ(get(instance + "/rendered", {"Accept: image/gif"}).status, 406);

  // A rendered series or study: a multipart/related of one image per instance, each part naming
  // its instance's rendered resource.
  for (const std::string& resource :
       {"/studies/" + study, "/studies/" + study + "/series/" + series}) {
    const auto instances = json_array(get(resource + "/instances")).size();
    auto rendered = get(resource + "/rendered?viewport=16,16",
                        {"Accept: multipart/related; type=\"image/png\""});
    ASSERT_EQ(rendered.status, 200) << resource << ": " << rendered.body;
    EXPECT_NE(rendered.header("content-type").find("type=\"image/png\""), std::string::npos);
    auto images = testing::parse_multipart_strict(
        rendered.body, testing::boundary_of(rendered.header("content-type")), why);
    ASSERT_TRUE(images) << resource << ": " << why;
    EXPECT_EQ(images->size(), instances) << resource;
    std::set<std::string> locations;
    for (const auto& image : *images) {
      EXPECT_EQ(image.headers.at("content-type"), "image/png");
      EXPECT_EQ(image.body.substr(1, 3), "PNG");
      const std::string& location = image.headers.at("content-location");
      EXPECT_TRUE(location.ends_with("/rendered")) << location;
      EXPECT_NE(location.find(resource + "/"), std::string::npos) << location;
      locations.insert(location);
    }
    EXPECT_EQ(locations.size(), instances) << "each instance once";
  }
  const auto study_jpeg = get("/studies/" + study + "/rendered");
  EXPECT_EQ(study_jpeg.status, 200);
  EXPECT_NE(study_jpeg.header("content-type").find("type=\"image/jpeg\""), std::string::npos);
  EXPECT_EQ(get("/studies/" + study + "/rendered", {"Accept: image/gif"}).status, 406);
  EXPECT_EQ(get("/studies/1.2.3.999/rendered").status, 404);

  // WADO-URI: the stored object (explicit VR little endian here) and a rendered JPEG.
  const std::string uids = "studyUID=" + study + "&seriesUID=" + series + "&objectUID=" + sop;
  auto dicom =
      testing::http_request(node_->http_port(), "GET",
                            "/wado?requestType=WADO&" + uids + "&contentType=application/dicom");
  ASSERT_EQ(dicom.status, 200) << dicom.body;
  const auto back = corpus_.path() / "uri.dcm";
  std::ofstream(back, std::ios::binary) << dicom.body;
  EXPECT_TRUE(testing::dataset_bytes(back) == testing::dataset_bytes(file));
  auto uri_jpeg = testing::http_request(
      node_->http_port(), "GET",
      "/wado?requestType=WADO&" + uids + "&windowCenter=40&windowWidth=400&rows=16&columns=16");
  EXPECT_EQ(uri_jpeg.status, 200);
  EXPECT_EQ(uri_jpeg.body.substr(0, 2), "\xff\xd8");
  EXPECT_EQ(
      testing::http_request(node_->http_port(), "GET", "/wado?requestType=WADO&studyUID=1").status,
      400);
  EXPECT_EQ(testing::http_request(node_->http_port(), "GET",
                                  "/wado?requestType=WADO&" + uids + "&windowCenter=40")
                .status,
            400);
}

TEST_P(DicomWebTest, StowStoresDurablyAndEveryFaceSeesTheSameStudies) {
  auto r = stow("/studies", files_);
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  auto response = testing::parse_json(r.body);
  for (const auto& problem : testing::dicom_json_problems(response)) ADD_FAILURE() << problem;
  ASSERT_TRUE(response.as_object().contains("00081199")) << r.body;
  EXPECT_EQ(response.at("00081199").at("Value").as_array().size(), files_.size());
  EXPECT_FALSE(response.as_object().contains("00081198"));
  EXPECT_EQ(node_->open_index()->counts()->instances, static_cast<std::int64_t>(files_.size()));

  // QIDO finds them, C-FIND (DIMSE) sees the same studies, WADO-RS gives back the same bytes.
  auto studies = json_array(get("/studies"));
  EXPECT_EQ(studies.size(), 4u);
  auto find = testing::run_dcmtk_tool({"findscu", "-S", "-aec", "PACSNODE", "-v"},
                                      {"QueryRetrieveLevel=STUDY", "StudyInstanceUID"},
                                      node_->dimse_port());
  std::size_t dimse_matches = 0;
  for (std::size_t at = find.output.find("(Pending)"); at != std::string::npos;
       at = find.output.find("(Pending)", at + 1))
    ++dimse_matches;
  EXPECT_EQ(dimse_matches, 4u) << find.output;
  const std::string study = testing::value_of(files_[0], DCM_StudyInstanceUID);
  auto wado = get("/studies/" + study, {"Accept: multipart/related; type=\"application/dicom\"; "
                                        "transfer-syntax=*"});
  std::string why;
  auto parts = testing::parse_multipart_strict(
      wado.body, testing::boundary_of(wado.header("content-type")), why);
  ASSERT_TRUE(parts) << why;
  for (const auto& part : *parts) {
    const auto file = corpus_.path() / "back.dcm";
    std::ofstream(file, std::ios::binary) << part.body;
    const auto id = testing::identity_of(file);
    EXPECT_TRUE(testing::dataset_bytes(file) ==
                testing::dataset_bytes(by_sop_[id.sop_instance_uid]));
  }
  // Sending the same again is a success that changes nothing (the duplicate policy).
  auto again = stow("/studies", {files_[0]});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(node_->open_index()->counts()->instances, static_cast<std::int64_t>(files_.size()));
}

TEST_P(DicomWebTest, StowRefusesBadBodiesAndReportsEachFailure) {
  // Not multipart/related application/dicom: 415, nothing read.
  EXPECT_EQ(stow("/studies", {files_[0]}, "application/dicom").status, 415);
  EXPECT_EQ(
      stow("/studies", {files_[0]}, "multipart/related; type=\"application/dicom+xml\"; boundary=x")
          .status,
      415);
  // A body cut before its close delimiter: 400, and nothing stored.
  const auto cut = corpus_.path() / "cut";
  testing::write_multipart(cut, "b0undary", {files_[0], files_[1]});
  fs::resize_file(cut, fs::file_size(cut) - 20);
  auto broken = testing::http_request(
      node_->http_port(), "POST", "/dicom-web/studies",
      {"Content-Type: multipart/related; type=\"application/dicom\"; boundary=b0undary"}, cut);
  EXPECT_EQ(broken.status, 400) << broken.body;
  EXPECT_EQ(node_->open_index()->counts()->instances, 0);

  // Into a named study: the instance of another study fails (C409), the other is stored: 202.
  const std::string study = testing::value_of(files_[0], DCM_StudyInstanceUID);
  const fs::path other = *std::find_if(files_.begin(), files_.end(), [&](const fs::path& f) {
    return testing::value_of(f, DCM_StudyInstanceUID) != study;
  });
  auto mixed = stow("/studies/" + study, {files_[0], other});
  EXPECT_EQ(mixed.status, 202) << mixed.body;
  auto response = testing::parse_json(mixed.body);
  const auto& failed = response.at("00081198").at("Value").as_array();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].at("00081197").at("Value").as_array()[0].as_int64(), 0xC409);
  EXPECT_EQ(string_of(failed[0], "00081155"), testing::identity_of(other).sop_instance_uid);
  // Only failures: 409. Garbage as a part: 409 with "cannot understand".
  EXPECT_EQ(stow("/studies/" + study, {other}).status, 409);
  const auto garbage = corpus_.path() / "garbage.dcm";
  std::ofstream(garbage, std::ios::binary) << std::string(5000, 'x');
  auto bad_part = stow("/studies", {garbage});
  EXPECT_EQ(bad_part.status, 409);
  EXPECT_EQ(testing::parse_json(bad_part.body)
                .at("00081198")
                .at("Value")
                .as_array()[0]
                .at("00081197")
                .at("Value")
                .as_array()[0]
                .as_int64(),
            0xC000);
  EXPECT_EQ(node_->open_index()->counts()->instances, 1);
  EXPECT_EQ(get("/studies").status, 200) << "the node serves on";
}

// The request sequence of a zero-footprint viewer configured OHIF-style (qidoRoot and wadoRoot at
// /dicom-web): study list, series list, series metadata, then every instance's frames, including
// an instance stored compressed (decoded for the viewer).
TEST_P(DicomWebTest, AViewerListsAndDisplaysStudiesTheWayOhifAsks) {
  store_all_with_dimse();
  const auto compressed = testing::generate_corpus(
      corpus_.path() / "jpeg",
      {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "1", "--rows", "32",
       "--columns", "32", "--syntax", "jpeg-lossless", "--seed", "77"});
  auto sent =
      testing::run({"dcmsend", "--call", "PACSNODE", "+sd", "+r", "127.0.0.1",
                    std::to_string(node_->dimse_port()), (corpus_.path() / "jpeg").string()},
                   std::chrono::seconds(60), {"TCP_NODELAY=1"});
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  const std::vector<std::string> json = {"Accept: application/dicom+json"};
  auto studies = json_array(get(
      "/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060", json));
  ASSERT_EQ(studies.size(), 5u);
  std::size_t frames_seen = 0;
  for (const auto& study : studies) {
    const std::string study_uid = string_of(study, "0020000D");
    auto series = json_array(get("/studies/" + study_uid + "/series", json));
    ASSERT_FALSE(series.empty());
    for (const auto& s : series) {
      const std::string series_uid = string_of(s, "0020000E");
      auto metadata =
          json_array(get("/studies/" + study_uid + "/series/" + series_uid + "/metadata", json));
      ASSERT_FALSE(metadata.empty());
      for (const auto& instance : metadata) {
        const std::string sop = string_of(instance, "00080018");
        const auto rows = std::stoul(string_of(instance, "00280010"));
        const auto columns = std::stoul(string_of(instance, "00280011"));
        auto frame = get(
            "/studies/" + study_uid + "/series/" + series_uid + "/instances/" + sop + "/frames/1",
            {"Accept: multipart/related; type=application/octet-stream; "
             "transfer-syntax=*"});
        ASSERT_EQ(frame.status, 200) << sop << frame.body;
        std::string why;
        auto parts = testing::parse_multipart_strict(
            frame.body, testing::boundary_of(frame.header("content-type")), why);
        ASSERT_TRUE(parts) << why;
        EXPECT_EQ(parts->front().body.size(), rows * columns * 2) << sop;  // 16-bit, one sample
        ++frames_seen;
      }
    }
  }
  EXPECT_EQ(frames_seen, files_.size() + 1);
}

std::int64_t status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  return -1;
}

// A study streams file by file: retrieving it must not hold it in memory. 400 MB here (CI time);
// PACSNODE_TEST_LARGE_STUDY_MB=2048 runs the 2 GB case of the issue.
TEST(DicomWebLimits, RetrievingALargeStudyKeepsMemoryFlat) {
  const char* env = std::getenv("PACSNODE_TEST_LARGE_STUDY_MB");
  const int megabytes = env ? std::atoi(env) : 400;
  const int instances = std::max(1, megabytes * 2);  // 512 KB each
  TestNode node({.db = "sqlite", .extra_flags = {"--log-level", "warn"}});
  node.start();
  testing::TempDir dir;
  const auto files = testing::generate_corpus(
      dir.path() / "in", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                          std::to_string(instances), "--rows", "512", "--columns", "512"});
  ASSERT_EQ(testing::storescu(node.dimse_port(), {(dir.path() / "in").string()}).exit_code, 0);
  DcmFileFormat first;
  ASSERT_TRUE(first.loadFile(files[0].c_str(), EXS_Unknown, EGL_noChange, 1024).good());
  OFString study;
  first.getDataset()->findAndGetOFString(DCM_StudyInstanceUID, study);
  // Peak RSS from here on only (Linux: writing 5 to clear_refs resets VmHWM).
  std::ofstream("/proc/" + std::to_string(node.pid()) + "/clear_refs") << "5";
  const std::int64_t before = status_kb(node.pid(), "VmRSS");
  auto r =
      testing::run({"curl", "-s", "-S", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                    "-H", "Accept: multipart/related; type=\"application/dicom\"",
                    "http://127.0.0.1:" + std::to_string(node.http_port()) + "/dicom-web/studies/" +
                        study.c_str()},
                   std::chrono::seconds(300));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.substr(0, 3), "200") << r.output;
  EXPECT_GT(std::stoll(r.output.substr(4)), std::int64_t{megabytes} << 20) << "the whole study";
  const std::int64_t peak = status_kb(node.pid(), "VmHWM");
  ASSERT_GT(before, 0);
  std::printf("streamed %d MB: RSS %lld kB before, peak %lld kB during\n", megabytes,
              static_cast<long long>(before), static_cast<long long>(peak));
  EXPECT_LT(peak - before, 100 * 1024) << "peak RSS grew from " << before << " kB to " << peak
                                       << " kB while streaming " << megabytes << " MB";
}

// Compressed frames go out as stored, in their own media type, when the client asks for it.
TEST_P(DicomWebTest, CompressedFramesInTheirOwnMediaType) {
  const auto files = testing::generate_corpus(
      corpus_.path() / "jls",
      {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "1", "--rows", "32",
       "--columns", "32", "--syntax", "jpeg-ls", "--seed", "78"});
  auto sent = testing::run({"dcmsend", "--call", "PACSNODE", "+sd", "+r", "127.0.0.1",
                            std::to_string(node_->dimse_port()), (corpus_.path() / "jls").string()},
                           std::chrono::seconds(60), {"TCP_NODELAY=1"});
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  const auto& file = files[0];
  const std::string path = "/studies/" + testing::value_of(file, DCM_StudyInstanceUID) +
                           "/series/" + testing::value_of(file, DCM_SeriesInstanceUID) +
                           "/instances/" + testing::identity_of(file).sop_instance_uid +
                           "/frames/1";
  for (const std::string accept : {"multipart/related; type=\"image/jls\"",
                                   "multipart/related; type=image/x-jls; transfer-syntax=*"}) {
    auto r = get(path, {"Accept: " + accept});
    ASSERT_EQ(r.status, 200) << accept << r.body;
    std::string why;
    auto parts = testing::parse_multipart_strict(
        r.body, testing::boundary_of(r.header("content-type")), why);
    ASSERT_TRUE(parts) << why;
    EXPECT_EQ(parts->front().headers.at("content-type"),
              "image/jls; transfer-syntax=1.2.840.10008.1.2.4.80");
    EXPECT_EQ(parts->front().body.substr(0, 2), "\xff\xd8") << "a JPEG-LS codestream";
  }
  // Uncompressed on request; another compressed type is encoded on the fly (JPEG lossless, the
  // default syntax of image/jpeg); 406 for one no codec writes (HTJ2K).
  auto raw = get(path, {"Accept: multipart/related; type=application/octet-stream"});
  EXPECT_EQ(raw.status, 200);
  auto jpeg = get(path, {"Accept: multipart/related; type=\"image/jpeg\""});
  ASSERT_EQ(jpeg.status, 200) << jpeg.body;
  EXPECT_NE(jpeg.header("content-type").find("image/jpeg"), std::string::npos);
  EXPECT_NE(jpeg.body.find("image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.70"),
            std::string::npos);
  EXPECT_EQ(get(path, {"Accept: multipart/related; type=\"image/jphc\""}).status, 406);
}

TEST(DicomWebLimits, MalformedHttpGetsAClearErrorAndTheNodeServesOn) {
  TestNode node({.db = "sqlite", .extra_flags = {}});
  node.start();
  EXPECT_EQ(testing::exchange_raw(node.http_port(), "THIS IS NOT HTTP\r\n\r\n").substr(0, 12),
            "HTTP/1.1 400");
  EXPECT_EQ(testing::exchange_raw(node.http_port(),
                                  "GET /dicom-web/studies HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                      std::string(20000, 'a') + "\r\n\r\n")
                .substr(0, 12),
            "HTTP/1.1 431");
  // Content-Length that is no length: beyond 64 bits, negative, not a number, two that differ.
  for (const char* length : {"Content-Length: 99999999999999999999999999", "Content-Length: -5",
                             "Content-Length: twelve", "Content-Length: 4\r\nContent-Length: 7"})
    EXPECT_EQ(testing::exchange_raw(node.http_port(),
                                    std::string("POST /dicom-web/studies HTTP/1.1\r\nHost: x\r\n") +
                                        length + "\r\n\r\nbody")
                  .substr(0, 12),
              "HTTP/1.1 400")
        << length;
  // A body shorter than its Content-Length, then the connection dropped: nothing stored.
  testing::exchange_raw(
      node.http_port(),
      "POST /dicom-web/studies HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/related; "
      "type=\"application/dicom\"; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n\r\nDICM",
      true);
  EXPECT_EQ(testing::http_request(node.http_port(), "GET", "/dicom-web/studies").status, 200);
  EXPECT_EQ(node.open_index()->counts()->instances, 0);
  EXPECT_TRUE(node.running());
}

// A connection to the HTTP port that sends nothing; -1 when it cannot connect.
int open_idle_connection(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
  ::close(fd);
  return -1;
}

TEST(DicomWebLimits, ConnectionsOverTheLimitGet503AndTheNodeServesOnWhenTheyClose) {
  TestNode node({.db = "sqlite", .extra_flags = {"--http-max-connections", "2"}});
  node.start();
  const int first = open_idle_connection(node.http_port());
  const int second = open_idle_connection(node.http_port());
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // both accepted and counted
  const std::string busy =
      testing::exchange_raw(node.http_port(), "GET /dicom-web/studies HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(busy.substr(0, 12), "HTTP/1.1 503") << busy;
  EXPECT_NE(busy.find("Retry-After: 1"), std::string::npos) << busy;
  ::close(first);
  ::close(second);
  // Bounded: the sessions end when they see the close; then requests are served again.
  int status = 0;
  for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = testing::http_request(node.http_port(), "GET", "/dicom-web/studies").status;
  }
  EXPECT_EQ(status, 200);
  EXPECT_NE(node.log().find("new ones are answered 503"), std::string::npos);
}

TEST(DicomWebLimits, ARequestBodyOverTheLimitGets413AndNothingIsStored) {
  TestNode node({.db = "sqlite", .extra_flags = {"--http-max-request-mb", "1"}});
  node.start();
  testing::TempDir dir;
  const auto files = testing::generate_corpus(
      dir.path() / "in", {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "4",
                          "--rows", "512", "--columns", "512"});  // 4 x 512 KB
  const auto body = dir.path() / "body";
  testing::write_multipart(body, "limit-boundary", files);
  auto r = testing::http_request(
      node.http_port(), "POST", "/dicom-web/studies",
      {"Content-Type: multipart/related; type=\"application/dicom\"; boundary=limit-boundary"},
      body);
  EXPECT_EQ(r.status, 413) << r.body << r.error;
  EXPECT_EQ(node.open_index()->counts()->instances, 0);
  EXPECT_EQ(testing::http_request(node.http_port(), "GET", "/dicom-web/studies").status, 200);
}

TEST_P(DicomWebTest, BrowsersFromAllowedOriginsGetCorsHeaders) {
  auto preflight =
      testing::http_request(node_->http_port(), "OPTIONS", "/dicom-web/studies",
                            {"Origin: http://viewer.test", "Access-Control-Request-Method: GET"});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.header("access-control-allow-origin"), "http://viewer.test");
  EXPECT_NE(preflight.header("access-control-allow-methods").find("GET"), std::string::npos);
  auto allowed = get("/studies", {"Origin: http://viewer.test"});
  EXPECT_EQ(allowed.header("access-control-allow-origin"), "http://viewer.test");
  auto other = get("/studies", {"Origin: http://elsewhere.test"});
  EXPECT_EQ(other.header("access-control-allow-origin"), "");
}

INSTANTIATE_TEST_SUITE_P(Backends, DicomWebTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace pacs
