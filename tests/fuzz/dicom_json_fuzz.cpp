// The DICOM JSON writer on whatever data set DCMTK reads without an error from arbitrary bytes (as
// the node reads a stored object: from a file, values over 4 KB left there until written): no
// crash, and the output is always valid JSON (a client's JSON parser must accept every answer).
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>

#include <boost/json/src.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "dicomweb/dicom_json.h"
#include "tests/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pacs::fuzz::quiet_logs();
  if (size < 1) return 0;
  // The first byte picks the transfer syntax the rest is read in.
  const E_TransferSyntax syntax = data[0] % 3 == 0   ? EXS_LittleEndianImplicit
                                  : data[0] % 3 == 1 ? EXS_LittleEndianExplicit
                                                     : EXS_BigEndianExplicit;
  const auto& file = pacs::fuzz::as_scratch_file("dicom_json", data + 1, size - 1);
  DcmDataset dataset;
  // Only what ingest would accept: it refuses an object that does not read to its end.
  if (dataset.loadFile(file.c_str(), syntax, EGL_noChange, 4096).bad()) return 0;
  const std::string json = pacs::web::to_dicom_json(dataset, "http://127.0.0.1/bulk");
  boost::system::error_code ec;
  (void)boost::json::parse(json, ec);
  if (ec) std::abort();
  return 0;
}
