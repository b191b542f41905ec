// C-STORE sub-operations on an established association, for C-MOVE, C-GET and routing alike.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>
#include <tl/expected.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>

#include "pacsnode/dimse/store_request.h"
#include "pacsnode/services/retrieve.h"

class DcmFileFormat;

namespace pacs::dimse {

struct SubOperationOutcome {
  Uint16 status = 0;    // the peer's C-STORE response status, or ours when it was never sent
  std::string failure;  // why, for anything but success and warnings
};

// A read-only file descriptor, closed with its owner.
struct FileDescriptor {
  explicit FileDescriptor(const std::filesystem::path& path);
  ~FileDescriptor();
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int fd;
};

class InstanceSender {
 public:
  // For C-MOVE sub-operations, the requester's AE title and message ID (PS3.7 9.1.1.1).
  InstanceSender(T_ASC_Association* association, int timeout_seconds,
                 std::string move_originator_aet = {}, Uint16 move_originator_message_id = 0);

  // Sends one stored instance and waits for its response. The stored bytes go out unchanged on a
  // context that accepted the stored syntax; otherwise DCMTK converts them to an accepted
  // uncompressed syntax. An instance that cannot be read or converted, or that has no context,
  // fails with a status of our own (nothing is sent). A bad condition means the association
  // broke. A C-CANCEL that arrives while the response is awaited (C-GET: on this association)
  // sets `cancelled`; the response is still awaited.
  // With `next`, the instance that will be sent after this one is read (and converted if need
  // be) while this one's response is awaited, when the peer is busy storing.
  tl::expected<SubOperationOutcome, OFCondition> send(const RetrieveItem& item, bool& cancelled,
                                                      const RetrieveItem* next = nullptr);
  ~InstanceSender();

 private:
  // An instance made ready to go: its stored bytes laid out in a writer, or a converted data
  // set, or the reason it cannot be sent.
  struct Prepared {
    std::string sop_instance_uid;
    T_ASC_PresentationContextID context = 0;
    Uint16 message_id = 0;
    std::optional<SubOperationOutcome> failure;
    std::optional<FileDescriptor> file;  // open until the writer has sent it
    StoreRequestWriter* writer = nullptr;
    std::unique_ptr<DcmFileFormat> converted;
    T_DIMSE_C_StoreRQ converted_request{};
  };
  std::unique_ptr<Prepared> prepare(const RetrieveItem& item);
  tl::expected<SubOperationOutcome, OFCondition> await_response(Uint16 message_id, bool& cancelled);

  T_ASC_Association* association_;
  int timeout_seconds_;
  std::string move_originator_aet_;
  Uint16 move_originator_message_id_;
  std::array<StoreRequestWriter, 2> writers_;
  int next_writer_ = 0;
  std::unique_ptr<Prepared> read_ahead_;
};

}  // namespace pacs::dimse
