#include "hl7bridge/issuers.h"

namespace pacs::hl7 {

std::string issuer_or_default(const std::string& issuer, const Message& message,
                              const DefaultIssuers& defaults) {
  if (!issuer.empty()) return issuer;
  const Segment* msh = message.find("MSH");
  if (!msh) return {};
  const auto found = defaults.find(msh->value(3));
  return found == defaults.end() ? std::string() : found->second;
}

}  // namespace pacs::hl7
