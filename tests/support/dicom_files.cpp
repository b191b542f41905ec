#include "tests/support/dicom_files.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmnet/scu.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs::testing {
namespace fs = std::filesystem;

std::vector<fs::path> files_below(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<fs::path> generate_corpus(const fs::path& dir, const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {gencorpus_binary(), "--out", dir.string()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  // Generous: a sanitizer build writes a large corpus (400 MB) at a tenth of the release speed.
  auto result = run(argv, std::chrono::seconds(600));
  if (result.exit_code != 0) throw std::runtime_error("gencorpus failed: " + result.output);
  return files_below(dir);
}

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string read_all_once_it_holds(const fs::path& file, std::string_view text) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string bytes = read_all(file);
  while (bytes.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    bytes = read_all(file);
  }
  return bytes;
}

void write_all(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string dataset_bytes(const fs::path& file) {
  const std::string all = read_all(file);
  if (all.size() < 144 || all.compare(128, 4, "DICM") != 0 ||
      all.compare(132, 4, std::string("\x02\0\0\0", 4)) != 0)
    throw std::runtime_error(file.string() + " is not a Part 10 file with a meta group length");
  const auto* p = reinterpret_cast<const unsigned char*>(all.data()) + 140;
  const std::size_t meta_length =
      p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::size_t>(p[3]) << 24;
  return all.substr(144 + meta_length);
}

std::string canonical_dataset(const fs::path& file) {
  DcmFileFormat ff;
  if (ff.loadFile(file.c_str()).bad()) throw std::runtime_error("cannot read " + file.string());
  char path[] = "/tmp/pacsnode-canonical-XXXXXX";
  const int fd = mkstemp(path);
  ::close(fd);
  ff.saveFile(path, EXS_LittleEndianExplicit);
  std::string bytes = dataset_bytes(path);
  ::unlink(path);
  return bytes;
}

namespace {
std::string read_value(const fs::path& file, const DcmTagKey& tag, bool all) {
  DcmFileFormat ff;
  if (ff.loadFile(file.c_str(), EXS_Unknown, EGL_noChange, 1024).bad())
    throw std::runtime_error("cannot read " + file.string());
  OFString v;
  if (all)
    ff.getDataset()->findAndGetOFStringArray(tag, v);
  else
    ff.getDataset()->findAndGetOFString(tag, v);
  return v.c_str();
}
}  // namespace

std::string value_of(const fs::path& file, const DcmTagKey& tag) {
  return read_value(file, tag, false);
}

std::string values_of(const fs::path& file, const DcmTagKey& tag) {
  return read_value(file, tag, true);
}

FileIdentity identity_of(const fs::path& file) {
  DcmFileFormat ff;
  if (ff.loadFile(file.c_str(), EXS_Unknown, EGL_noChange, 1024).bad())
    throw std::runtime_error("cannot read " + file.string());
  OFString sop_class, sop, syntax;
  ff.getDataset()->findAndGetOFString(DCM_SOPClassUID, sop_class);
  ff.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, sop);
  ff.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, syntax);
  return {sop_class.c_str(), sop.c_str(), syntax.c_str()};
}

std::vector<StoreAttempt> store_each(int port, const std::vector<fs::path>& files,
                                     const std::function<void(const StoreAttempt&)>& on_each,
                                     const std::string& called_aet) {
  std::vector<FileIdentity> identities;
  std::map<std::string, std::set<std::string>> syntaxes;  // SOP class -> transfer syntaxes
  for (const auto& f : files) {
    identities.push_back(identity_of(f));
    syntaxes[identities.back().sop_class_uid].insert(identities.back().transfer_syntax);
  }
  DcmSCU scu;
  scu.setAETitle("TESTSCU");
  scu.setPeerAETitle(called_aet.c_str());
  scu.setPeerHostName("127.0.0.1");
  scu.setPeerPort(static_cast<Uint16>(port));
  scu.setMaxReceivePDULength(ASC_MAXIMUMPDUSIZE);
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  scu.setDIMSETimeout(60);
  for (const auto& [sop_class, set] : syntaxes)
    for (const auto& ts : set) scu.addPresentationContext(sop_class.c_str(), {ts.c_str()});
  std::vector<StoreAttempt> attempts;
  if (scu.initNetwork().bad() || scu.negotiateAssociation().bad()) return attempts;
  for (std::size_t i = 0; i < files.size(); ++i) {
    StoreAttempt attempt{files[i], identities[i].sop_instance_uid};
    const T_ASC_PresentationContextID id = scu.findPresentationContextID(
        identities[i].sop_class_uid.c_str(), identities[i].transfer_syntax.c_str());
    Uint16 status = 0;
    const OFCondition c = scu.sendSTORERequest(id, files[i].c_str(), nullptr, status);
    attempt.sent = c.good();
    attempt.status = status;
    attempts.push_back(attempt);
    if (on_each) on_each(attempt);
    if (c.bad()) return attempts;
  }
  scu.releaseAssociation();
  return attempts;
}

ToolResult run_dcmtk_tool(std::vector<std::string> argv, const std::vector<std::string>& keys,
                          int port) {
  for (const auto& k : keys) {
    argv.push_back("-k");
    argv.push_back(k);
  }
  argv.push_back("127.0.0.1");
  argv.push_back(std::to_string(port));
  auto r = run(argv, std::chrono::seconds(120), {"TCP_NODELAY=1"});
  return {r.exit_code, r.output};
}

namespace {

StorescuResult run_storescu(int port, const std::vector<std::string>& paths,
                            const std::vector<std::string>& options,
                            const std::string& called_aet) {
  std::vector<std::string> argv = {"storescu"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {"-aec", called_aet, "+sd", "+r", "127.0.0.1", std::to_string(port)});
  argv.insert(argv.end(), paths.begin(), paths.end());
  auto result = run(argv, std::chrono::seconds(300), {"TCP_NODELAY=1"});
  return {result.exit_code, result.output};
}

}  // namespace

StorescuResult storescu(int port, const std::vector<std::string>& paths,
                        const std::string& called_aet, const std::string& calling_aet) {
  return run_storescu(port, paths, {"-aet", calling_aet}, called_aet);
}

StorescuResult storescu_each(int port, const std::vector<std::string>& paths) {
  return run_storescu(port, paths, {"-v", "-nh"}, "PACSNODE");
}

std::size_t responses_with(const std::string& storescu_output, const std::string& status) {
  const std::string line = "Received Store Response (" + status + ")";
  std::size_t n = 0;
  for (std::size_t at = storescu_output.find(line); at != std::string::npos;
       at = storescu_output.find(line, at + 1))
    ++n;
  return n;
}

}  // namespace pacs::testing
