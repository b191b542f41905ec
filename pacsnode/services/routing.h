// Store-and-forward routing rules: which destinations an arriving instance is forwarded to.
#pragma once

#include <dcmtk/dcmdata/dcdatset.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pacsnode/services/deidentify.h"
#include "storage/model/result.h"

namespace pacs {

struct RouteRule {
  std::string calling_aet;  // empty: from any sender (import has none)
  // Attribute -> value pattern ('*' and '?' wildcards); all must match the instance's header.
  std::vector<std::pair<DcmTagKey, std::string>> match;
  std::vector<std::string> destinations;
  // Send de-identified copies (PS3.15 Annex E) with these options; nullopt: as stored.
  std::optional<deid::Options> deidentify = std::nullopt;
};

// "KEY=PATTERN[,KEY=PATTERN...]->AET[,AET...]" where KEY is calling_aet, or a DICOM keyword
// (Modality, SOPClassUID, StudyDescription, ...) or a tag written ggggeeee. "->AET" alone
// forwards everything. A trailing ";deidentify[=OPTIONS]" sends de-identified copies (OPTIONS as
// deid::parse_options reads them; "basic" when omitted).
Result<RouteRule> parse_route(std::string_view spec);

// The queue knows an item's destination, not the rule that queued it: every rule naming a
// destination must ask for the same de-identification. The error names the destination.
Result<void> check_routes(const std::vector<RouteRule>& rules);

// The de-identification the rules ask for at a destination (see check_routes), or nullopt.
std::optional<deid::Options> deidentification_for(const std::vector<RouteRule>& rules,
                                                  const std::string& destination);

// Every destination whose rule matches, each once, in rule order.
std::vector<std::string> destinations_for(const std::vector<RouteRule>& rules,
                                          const std::string& calling_aet, DcmDataset& header);

}  // namespace pacs
