// C-STORE sub-operations on an established association, for C-MOVE, C-GET and routing alike.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmnet/assoc.h>
#include <tl/expected.hpp>

#include <string>
#include <vector>

#include "pacsnode/services/retrieve.h"

namespace pacs::dimse {

struct SubOperationOutcome {
  Uint16 status = 0;    // the peer's C-STORE response status, or ours when it was never sent
  std::string failure;  // why, for anything but success and warnings
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
  tl::expected<SubOperationOutcome, OFCondition> send(const RetrieveItem& item, bool& cancelled);

 private:
  tl::expected<SubOperationOutcome, OFCondition> await_response(Uint16 message_id, bool& cancelled);

  T_ASC_Association* association_;
  int timeout_seconds_;
  std::string move_originator_aet_;
  Uint16 move_originator_message_id_;
  std::vector<unsigned char> buffer_;  // reused across instances
};

}  // namespace pacs::dimse
