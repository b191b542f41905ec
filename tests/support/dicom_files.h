// DICOM file helpers for tests: corpora, dataset bytes, a C-STORE client that reports each status.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

class DcmTagKey;

namespace pacs::testing {

// Runs pacsnode-gencorpus with the given flags into dir and returns the files it wrote, sorted.
std::vector<std::filesystem::path> generate_corpus(const std::filesystem::path& dir,
                                                   const std::vector<std::string>& flags);
std::vector<std::filesystem::path> files_below(const std::filesystem::path& dir);

// The bytes after a Part 10 file's meta header: what travels in a C-STORE.
std::string dataset_bytes(const std::filesystem::path& file);
// The dataset re-encoded as explicit VR little endian: equal for equal content, whatever the
// encoding (a deflated stream differs byte-wise each time a sender deflates it anew).
std::string canonical_dataset(const std::filesystem::path& file);
std::string read_all(const std::filesystem::path& file);
// The file once it holds `text` (a log another thread appends to, such as the audit log, whose
// writer gathers events for a moment), or as it is after 10 s.
std::string read_all_once_it_holds(const std::filesystem::path& file, std::string_view text);
void write_all(const std::filesystem::path& file, const std::string& bytes);

struct FileIdentity {
  std::string sop_class_uid, sop_instance_uid, transfer_syntax;
};
FileIdentity identity_of(const std::filesystem::path& file);
// One attribute's value as text (empty when absent), read from the file's header.
std::string value_of(const std::filesystem::path& file, const DcmTagKey& tag);
// Every value of a multi-valued attribute, separated by backslashes.
std::string values_of(const std::filesystem::path& file, const DcmTagKey& tag);

struct StoreAttempt {
  std::filesystem::path file;
  std::string sop_instance_uid;
  bool sent = false;         // a response arrived
  std::uint16_t status = 0;  // its status
};

// Sends each file on one association (DCMTK's DcmSCU), calling on_each after every response; stops
// at the first network failure. Returns what happened to each file attempted.
std::vector<StoreAttempt> store_each(int port, const std::vector<std::filesystem::path>& files,
                                     const std::function<void(const StoreAttempt&)>& on_each = {},
                                     const std::string& called_aet = "PACSNODE");

// A DCMTK query/retrieve tool (findscu, movescu, getscu) against 127.0.0.1:port: tool_and_flags,
// then "-k KEY" for each key, then the address; with TCP_NODELAY=1.
struct ToolResult {
  int exit_code;
  std::string output;
};
ToolResult run_dcmtk_tool(std::vector<std::string> tool_and_flags,
                          const std::vector<std::string>& keys, int port);

// storescu (DCMTK's command-line SCU) over files or folders; returns its exit code and output.
struct StorescuResult {
  int exit_code;
  std::string output;
};
// How many store responses in storescu -v output carry this status text, e.g.
// "Refused: OutOfResources".
std::size_t responses_with(const std::string& storescu_output, const std::string& status);

StorescuResult storescu(int port, const std::vector<std::string>& paths,
                        const std::string& called_aet = "PACSNODE",
                        const std::string& calling_aet = "STORESCU");
// storescu -v -nh: every file is sent even after a refusal, and each response is in the output
// (count them with responses_with); the exit code is 0 whatever the statuses.
StorescuResult storescu_each(int port, const std::vector<std::string>& paths);

}  // namespace pacs::testing
