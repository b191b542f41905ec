// DCMTK set-up the DIMSE test tools share: logging, the dictionary check, an SCU's peer and
// timeouts, and the uncompressed syntaxes they propose.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scu.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <string>

namespace pacs::tools {

// DCMTK's own messages down to errors only; false, with a message naming `tool` on stderr, when no
// DICOM data dictionary is loaded.
inline bool init_dcmtk(const char* tool) {
  OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
  if (dcmDataDict.isDictionaryLoaded()) return true;
  std::fprintf(stderr, "%s: no DICOM data dictionary loaded\n", tool);
  return false;
}

// Points `scu` at CALLED@HOST:PORT as CALLING, with `timeout_seconds` for the connection, the
// association and every DIMSE message (non-blocking DIMSE, so the timeout applies).
inline void configure_scu(DcmSCU& scu, const std::string& calling, const std::string& called,
                          const std::string& host, int port, int timeout_seconds) {
  scu.setAETitle(calling.c_str());
  scu.setPeerAETitle(called.c_str());
  scu.setPeerHostName(host.c_str());
  scu.setPeerPort(static_cast<Uint16>(port));
  scu.setConnectionTimeout(timeout_seconds);
  scu.setACSETimeout(static_cast<Uint32>(timeout_seconds));
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  scu.setDIMSETimeout(static_cast<Uint32>(timeout_seconds));
}

// Explicit, then implicit VR little endian.
inline OFList<OFString> little_endian_syntaxes() {
  OFList<OFString> syntaxes;
  syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
  syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
  return syntaxes;
}

}  // namespace pacs::tools
