// The DIMSE face: C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET, MPPS and storage commitment SCP on
// DCMTK, one thread per association.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "pacsnode/dimse/access_policy.h"
#include "pacsnode/dimse/peer_directory.h"
#include "pacsnode/dimse/sender.h"
#include "pacsnode/services/commitment.h"
#include "pacsnode/services/ingest.h"
#include "pacsnode/services/mpps.h"
#include "pacsnode/services/query.h"
#include "pacsnode/services/retrieve.h"

namespace pacs::dimse {

// Where storage commitment reports go (PS3.4 J.3.3).
enum class CommitmentReportMode {
  // On the requester's association while it stays open and quiet (the requester needs no SCP of
  // its own, nor a --peer entry); on a new association to it when it released first or the
  // report was not acknowledged there.
  Same,
  // Always on a new association to the requester's AE, found among the --peer entries.
  New,
};

struct DimseOptions {
  std::string aet = "PACSNODE";
  std::uint16_t port = 11112;
  unsigned max_associations = 32;
  AccessPolicy access;  // which calling AEs may use which services, from where
  bool accept_unknown_sop_classes =
      false;                      // accept proposals of storage classes DCMTK does not know
  unsigned timeout_seconds = 60;  // ACSE/DIMSE: a silent peer frees its thread after this
  std::shared_ptr<const PeerDirectory> peers;  // C-MOVE destinations, by AE title
  CommitmentReportMode commitment_report = CommitmentReportMode::Same;
  // Set: every association on the port is TLS (plain connections fail the handshake).
  std::shared_ptr<DcmTransportLayer> tls;
};

class DimseServer {
 public:
  DimseServer(DimseOptions options, IngestService& ingest, QueryService& query,
              RetrieveService& retrieve, MppsService& mpps, CommitmentService& commitment);
  ~DimseServer();

  // Binds and serves until stop() is called; returns an error when the port cannot be bound.
  Result<void> run();
  // Safe from any thread (a signal-handling thread): stops accepting, lets running associations
  // end.
  void stop();

 private:
  class Listener;
  std::unique_ptr<Listener> listener_;
};

// Nagle's algorithm makes every C-STORE wait for a delayed ACK (~40 ms). DCMTK disables it when
// the TCP_NODELAY environment variable is set, for sockets it creates afterwards.
void disable_nagle_for_dcmtk_sockets();

}  // namespace pacs::dimse
