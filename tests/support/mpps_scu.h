// A Modality Performed Procedure Step SCU for tests, as a modality reports a step: N-CREATE then
// N-SET on one association (DCMTK has no MPPS command-line tool, and DcmSCU no N-CREATE/N-SET).
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmnet/scu.h>

#include <cstdint>
#include <string>

namespace pacs::testing {

class MppsScu : public DcmSCU {
 public:
  // Associates as `aet` with PACSNODE at 127.0.0.1:port; throws when it cannot.
  explicit MppsScu(int port, const std::string& aet = "MODALITY");
  ~MppsScu() override;

  // The DIMSE status of the response, or -1 when no response came.
  int create(const std::string& sop_instance_uid, DcmDataset& attributes);
  int set(const std::string& sop_instance_uid, DcmDataset& modifications);

 private:
  int exchange(T_DIMSE_Message& request, DcmDataset& dataset);
  T_ASC_PresentationContextID context_ = 0;
  std::uint16_t next_message_id_ = 1;
};

}  // namespace pacs::testing
