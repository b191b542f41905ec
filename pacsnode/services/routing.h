// Store-and-forward routing rules: which destinations an arriving instance is forwarded to.
#pragma once

#include <dcmtk/dcmdata/dcdatset.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/model/result.h"

namespace pacs {

struct RouteRule {
  std::string calling_aet;  // empty: from any sender (import has none)
  // Attribute -> value pattern ('*' and '?' wildcards); all must match the instance's header.
  std::vector<std::pair<DcmTagKey, std::string>> match;
  std::vector<std::string> destinations;
};

// "KEY=PATTERN[,KEY=PATTERN...]->AET[,AET...]" where KEY is calling_aet, or a DICOM keyword
// (Modality, SOPClassUID, StudyDescription, ...) or a tag written ggggeeee. "->AET" alone
// forwards everything.
Result<RouteRule> parse_route(std::string_view spec);

// Every destination whose rule matches, each once, in rule order.
std::vector<std::string> destinations_for(const std::vector<RouteRule>& rules,
                                          const std::string& calling_aet, DcmDataset& header);

}  // namespace pacs
