// The resources of the DICOMweb face, one file each (qido.cpp, wado.cpp, stow.cpp); the router in
// service.cpp has already split the path.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "dicomweb/http_server.h"
#include "dicomweb/service.h"
#include "security/audit_event.h"

namespace pacs::web {

using QueryParameters = std::vector<std::pair<std::string, std::string>>;

// The UIDs a path names, outermost first; empty where the path stops above that level.
struct ResourceUids {
  std::string study, series, instance;
};

// A JSON string literal of the text (quoted, escaped).
std::string json_string(const std::string& text);

// Who sent the request, as the audit trail names a requestor: the caller the access gate let in
// ("anonymous" without authentication) and the peer's address.
audit::Participant requestor(const Exchange& exchange);

// The node's URL as the client reached it (scheme, host and port), and the DICOMweb service's
// below it, for Retrieve URLs and BulkDataURIs.
std::string origin_url(const Exchange& exchange);
std::string base_url(const Exchange& exchange, const WebContext& context);

// A JSON error body with the reason, for every 4xx and 5xx the face sends (set, not yet sent:
// see Exchange::respond).
// Coroutines of this face take their arguments by reference to objects the caller names (no
// temporaries, no by-value class parameters): GCC 12 destroys by-value class parameters and
// temporaries of co_await expressions twice in some frames.
void reply_error(Exchange& exchange, http::status status, const std::string& message);

// The instances a path names (wado.cpp).
Result<std::vector<RetrieveItem>> find_instances(const WebContext& context,
                                                 const ResourceUids& uids);
// Sets a 400 or 404 answer and returns true when there is nothing to retrieve.
bool answered_if_missing(Exchange& exchange, const Result<std::vector<RetrieveItem>>& items);
std::string instance_url(const std::string& base, const RetrieveItem& item);
// A stored instance as it goes out when not as its stored bytes (another syntax, see can_produce,
// or coerced patient attributes), as Part 10 bytes; de-identified (Basic Profile) when a
// de-identifier is given, InvalidObject when the instance may not be (burned-in text).
Result<std::string> converted_instance(const RetrieveItem& item, const std::string& syntax,
                                       const deid::Deidentifier* deidentifier = nullptr);

// anonymize=yes (anonymize.cpp): the de-identifier to use, null for anonymize absent or "no".
// Sets a 400 answer and returns false for another value, 503 when the node has no de-identifier.
bool anonymize_parameter(Exchange& exchange, const WebContext& context,
                         const QueryParameters& parameters, const deid::Deidentifier*& out);
// The audit record of instances that went out de-identified (PS3.15 A.5.3.6 Export), named as
// stored; outcome 4 when some were refused.
void audit_anonymized(const Exchange& exchange, const WebContext& context,
                      const std::vector<const RetrieveItem*>& sent, int outcome);

// QIDO-RS: level is the level searched (STUDY, SERIES or IMAGE) within `within`.
struct SearchRequest {
  std::string level;
  ResourceUids within;
  QueryParameters parameters;
};
net::awaitable<void> search(Exchange& exchange, const WebContext& context,
                            const SearchRequest& request);

// WADO-RS: the instances, or their metadata, of a study, series or instance.
// With anonymize=yes among the parameters (a pacsnode extension, as WADO-URI has it), every
// instance goes out de-identified; those that may not be are left out (409 when none is left).
net::awaitable<void> retrieve_instances(Exchange& exchange, const WebContext& context,
                                        const ResourceUids& uids,
                                        const QueryParameters& parameters);
net::awaitable<void> retrieve_metadata(Exchange& exchange, const WebContext& context,
                                       const ResourceUids& uids);

// WADO-RS frames and bulk data of an instance, uncompressed (pixels.cpp).
net::awaitable<void> retrieve_frames(Exchange& exchange, const WebContext& context,
                                     const ResourceUids& uids, const std::string& frame_list);
net::awaitable<void> retrieve_bulkdata(Exchange& exchange, const WebContext& context,
                                       const ResourceUids& uids, const std::string& tag);
// WADO-RS rendered and thumbnail resources (rendered.cpp); frame_list empty: the first frame.
struct RenderRequest {
  ResourceUids uids;
  std::string frame_list;
  bool thumbnail = false;
  QueryParameters parameters;
};
net::awaitable<void> retrieve_rendered(Exchange& exchange, const WebContext& context,
                                       const RenderRequest& request);
// WADO-URI (PS3.18 9): /wado?requestType=WADO&studyUID=&seriesUID=&objectUID=...
net::awaitable<void> wado_uri(Exchange& exchange, const WebContext& context,
                              const QueryParameters& parameters);

// STOW-RS: POST /studies and /studies/{study}.
net::awaitable<void> store_instances(Exchange& exchange, const WebContext& context,
                                     const std::string& study);

}  // namespace pacs::web
