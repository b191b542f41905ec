// An association the node requests of a remote AE (C-MOVE and forwarding destinations, storage
// commitment requesters), with its network: released on the way out, or aborted once broken.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmnet/assoc.h>

#include <string>
#include <vector>

#include "pacsnode/dimse/sender.h"

namespace pacs::dimse {

struct ProposedContext {
  std::string sop_class;
  std::vector<std::string> syntaxes;
  // Our role as requester: the default (SCU) for C-STORE; SCP to send a storage commitment
  // N-EVENT-REPORT on an association we open (PS3.4 J.3.3, PS3.7 D.3.3.4).
  T_ASC_SC_ROLE role = ASC_SC_ROLE_DEFAULT;
};

struct Destination {
  std::string own_aet, aet;
  RemoteAe remote;
  unsigned timeout_seconds = 60;
};

class OutboundAssociation {
 public:
  OutboundAssociation() = default;
  OutboundAssociation(const OutboundAssociation&) = delete;
  OutboundAssociation& operator=(const OutboundAssociation&) = delete;
  ~OutboundAssociation();

  // Returns an empty string on success, else why the association could not be set up. Context
  // IDs are 1, 3, 5... in the order of `contexts`.
  std::string open(const Destination& destination, const std::vector<ProposedContext>& contexts);

  T_ASC_Association* get() const { return association_; }
  void mark_broken();

 private:
  T_ASC_Network* network_ = nullptr;
  T_ASC_Association* association_ = nullptr;
  bool broken_ = false;
};

}  // namespace pacs::dimse
