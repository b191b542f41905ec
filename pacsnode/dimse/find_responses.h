// Pending C-FIND responses, encoded by the node and written in runs.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>

#include <vector>

class DcmDataset;

namespace pacs::dimse {

// Each match of a C-FIND is a pending response: a command set that is the same for every match
// and an identifier. Through DCMTK that is two data-set encodings and four system calls per
// match, the largest part of a query's cost once the index has answered (docs/benchmarks.md).
// Here the command is encoded once, identifiers are appended as PDUs to one buffer, and the
// buffer is written when it holds kResponsesPerWrite responses (the first at once, so that the
// requester sees results without delay) or on flush().
class FindResponses {
 public:
  FindResponses(T_ASC_Association* association, T_ASC_PresentationContextID context,
                const T_DIMSE_C_FindRQ& request, Uint16 pending_status);
  OFCondition add(DcmDataset& identifier);
  OFCondition flush();
  // True when the last add() wrote to the peer: the moment to look for a C-CANCEL.
  bool just_written() const { return just_written_; }

 private:
  OFCondition prepare();

  T_ASC_Association* association_;
  T_ASC_PresentationContextID context_;
  const T_DIMSE_C_FindRQ& request_;
  Uint16 pending_status_;
  E_TransferSyntax syntax_ = EXS_Unknown;
  std::size_t per_pdu_ = 0;
  std::vector<unsigned char> command_;  // the pending response's command set, encoded
  std::vector<unsigned char> identifier_, out_;
  std::size_t buffered_ = 0, written_ = 0;
  bool just_written_ = false;
};

}  // namespace pacs::dimse
