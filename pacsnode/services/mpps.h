// Modality Performed Procedure Step SCP (PS3.4 F.7): N-CREATE starts a performed step IN
// PROGRESS, N-SET changes it until it is COMPLETED or DISCONTINUED; the worklist item and the
// order it performs follow (IHE RAD-6/RAD-7).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/index.h"

class DcmDataset;

namespace pacs {

// The DIMSE status of an N-CREATE or N-SET, and the reason for the Error Comment when it failed.
struct MppsOutcome {
  std::uint16_t status = 0;
  std::string error_comment;
};

class MppsService {
 public:
  // notify: the HL7 destinations told of each status (see Index::create_mpps).
  MppsService(Index& index, std::vector<std::string> notify)
      : index_(index), notify_(std::move(notify)) {}

  MppsOutcome create(const std::string& sop_instance_uid, DcmDataset& attributes);
  MppsOutcome set(const std::string& sop_instance_uid, DcmDataset& modifications);

 private:
  Index& index_;
  std::vector<std::string> notify_;
};

}  // namespace pacs
