// A DcmSCU associated with the node under test for one SOP class, for the test SCUs of services
// DCMTK ships no command-line tool for (MPPS, Storage Commitment).
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmnet/scu.h>

#include <string>

namespace pacs::testing {

// Associates `scu` as `aet` with PACSNODE at 127.0.0.1:port, proposing `sop_class` in Explicit VR
// Little Endian; the accepted presentation context. Throws, naming `what`, when it cannot.
T_ASC_PresentationContextID associate_with_node(DcmSCU& scu, int port, const std::string& aet,
                                                const char* sop_class, const std::string& what);

}  // namespace pacs::testing
