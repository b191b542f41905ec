#include "tests/support/node_scu.h"

#include <dcmtk/dcmdata/dcuid.h>

#include <stdexcept>

namespace pacs::testing {

T_ASC_PresentationContextID associate_with_node(DcmSCU& scu, int port, const std::string& aet,
                                                const char* sop_class, const std::string& what) {
  scu.setAETitle(aet.c_str());
  scu.setPeerAETitle("PACSNODE");
  scu.setPeerHostName("127.0.0.1");
  scu.setPeerPort(static_cast<Uint16>(port));
  scu.setACSETimeout(30);
  scu.setDIMSETimeout(30);
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  OFList<OFString> syntaxes;
  syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
  scu.addPresentationContext(sop_class, syntaxes);
  if (scu.initNetwork().bad() || scu.negotiateAssociation().bad())
    throw std::runtime_error(what + " association failed");
  const T_ASC_PresentationContextID context = scu.findPresentationContextID(sop_class, "");
  if (context == 0) throw std::runtime_error(what + " was not accepted");
  return context;
}

}  // namespace pacs::testing
