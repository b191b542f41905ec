#include "pacsnode/services/routing.h"

#include <dcmtk/dcmdata/dcdicent.h>
#include <dcmtk/dcmdata/dcdict.h>

#include <algorithm>

#include "pacsnode/services/text.h"
#include "pacsnode/services/wildcard.h"

namespace pacs {
namespace {

Result<DcmTagKey> tag_named(const std::string& name) {
  // Eight hex digits, as DICOM JSON writes tags (a comma would clash with the condition list).
  if (name.size() == 8 && name.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    const unsigned long value = std::stoul(name, nullptr, 16);
    return DcmTagKey(static_cast<Uint16>(value >> 16), static_cast<Uint16>(value & 0xffff));
  }
  const DcmDataDictionary& dictionary = dcmDataDict.rdlock();
  const DcmDictEntry* entry = dictionary.findEntry(name.c_str());
  const bool found = entry != nullptr;
  const DcmTagKey key = found ? entry->getKey() : DcmTagKey();
  dcmDataDict.rdunlock();
  if (!found)
    return fail(ErrorCode::InvalidArgument, "route: no DICOM attribute named '" + name + "'");
  return key;
}

}  // namespace

Result<RouteRule> parse_route(std::string_view spec) {
  std::optional<deid::Options> deidentify;
  if (const auto semicolon = spec.find(';'); semicolon != std::string_view::npos) {
    const std::string_view option = spec.substr(semicolon + 1);
    spec = spec.substr(0, semicolon);
    if (option != "deidentify" && !option.starts_with("deidentify="))
      return fail(ErrorCode::InvalidArgument,
                  "route option '" + std::string(option) + "': expected deidentify[=OPTIONS]");
    auto parsed = deid::parse_options(option == "deidentify" ? "basic" : option.substr(11));
    if (!parsed) return tl::unexpected(parsed.error());
    deidentify = *parsed;
  }
  const auto arrow = spec.find("->");
  if (arrow == std::string_view::npos)
    return fail(ErrorCode::InvalidArgument,
                "route '" + std::string(spec) + "': expected CONDITIONS->AET[,AET]");
  RouteRule rule;
  rule.deidentify = deidentify;
  for (const std::string& aet : split(spec.substr(arrow + 2), ','))
    if (!aet.empty()) rule.destinations.push_back(aet);
  if (rule.destinations.empty())
    return fail(ErrorCode::InvalidArgument, "route '" + std::string(spec) + "': no destination");
  const std::string_view conditions = spec.substr(0, arrow);
  if (conditions.empty()) return rule;
  for (const std::string& condition : split(conditions, ',')) {
    const auto eq = condition.find('=');
    if (eq == std::string::npos)
      return fail(ErrorCode::InvalidArgument,
                  "route condition '" + condition + "': expected KEY=PATTERN");
    const std::string key = condition.substr(0, eq), pattern = condition.substr(eq + 1);
    if (key == "calling_aet") {
      rule.calling_aet = pattern;
      continue;
    }
    auto tag = tag_named(key == "modality" ? "Modality" : key == "sop_class" ? "SOPClassUID" : key);
    if (!tag) return tl::unexpected(tag.error());
    rule.match.emplace_back(*tag, pattern);
  }
  return rule;
}

Result<void> check_routes(const std::vector<RouteRule>& rules) {
  for (std::size_t a = 0; a < rules.size(); ++a)
    for (std::size_t b = a + 1; b < rules.size(); ++b)
      for (const std::string& d : rules[a].destinations)
        if (std::find(rules[b].destinations.begin(), rules[b].destinations.end(), d) !=
                rules[b].destinations.end() &&
            rules[a].deidentify != rules[b].deidentify)
          return fail(ErrorCode::InvalidArgument,
                      "routes to " + d +
                          " differ in de-identification: every route to a destination must send "
                          "the same (as stored, or de-identified with the same options)");
  return {};
}

std::optional<deid::Options> deidentification_for(const std::vector<RouteRule>& rules,
                                                  const std::string& destination) {
  for (const RouteRule& rule : rules)
    if (std::find(rule.destinations.begin(), rule.destinations.end(), destination) !=
        rule.destinations.end())
      return rule.deidentify;
  return std::nullopt;
}

std::vector<std::string> destinations_for(const std::vector<RouteRule>& rules,
                                          const std::string& calling_aet, DcmDataset& header) {
  std::vector<std::string> out;
  for (const RouteRule& rule : rules) {
    if (!rule.calling_aet.empty() && !wildcard_match(rule.calling_aet, calling_aet)) continue;
    const bool all = std::all_of(rule.match.begin(), rule.match.end(), [&](const auto& m) {
      OFString value;
      header.findAndGetOFStringArray(m.first, value);
      return wildcard_match(m.second, value.c_str());
    });
    if (!all) continue;
    for (const std::string& d : rule.destinations)
      if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  }
  return out;
}

}  // namespace pacs
