#include "pacsnode/dimse/access_policy.h"

#include <array>
#include <utility>
#include <vector>

namespace pacs::dimse {
namespace {

constexpr std::array<std::pair<DimseService, std::string_view>, 8> kNames = {{
    {DimseService::Echo, "echo"},
    {DimseService::Store, "store"},
    {DimseService::Find, "find"},
    {DimseService::Move, "move"},
    {DimseService::Get, "get"},
    {DimseService::Worklist, "worklist"},
    {DimseService::Mpps, "mpps"},
    {DimseService::Commitment, "commitment"},
}};

// The words of a comma-separated list, empty ones included (so "a,,b" can be refused).
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::size_t from = 0;
  for (std::size_t guard = 0; guard <= text.size(); ++guard) {
    const auto comma = text.find(',', from);
    out.push_back(text.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return out;
}

}  // namespace

std::optional<std::set<DimseService>> parse_services(std::string_view word) {
  std::set<DimseService> out;
  for (const auto& [service, name] : kNames)
    if (word == "all" || word == name) out.insert(service);
  if (out.empty()) return std::nullopt;
  return out;
}

std::string_view service_name(DimseService service) {
  for (const auto& [s, name] : kNames)
    if (s == service) return name;
  return "?";
}

std::optional<DimseService> service_of_sop_class(std::string_view sop_class, bool is_storage) {
  // PS3.4: Verification, the Q/R information models (FIND, MOVE, GET of Patient and Study Root),
  // Modality Worklist FIND, MPPS and the Storage Commitment Push Model.
  static const std::map<std::string_view, DimseService> known = {
      {"1.2.840.10008.1.1", DimseService::Echo},
      {"1.2.840.10008.5.1.4.1.2.1.1", DimseService::Find},
      {"1.2.840.10008.5.1.4.1.2.2.1", DimseService::Find},
      {"1.2.840.10008.5.1.4.1.2.1.2", DimseService::Move},
      {"1.2.840.10008.5.1.4.1.2.2.2", DimseService::Move},
      {"1.2.840.10008.5.1.4.1.2.1.3", DimseService::Get},
      {"1.2.840.10008.5.1.4.1.2.2.3", DimseService::Get},
      {"1.2.840.10008.5.1.4.31", DimseService::Worklist},
      {"1.2.840.10008.3.1.2.3.3", DimseService::Mpps},
      {"1.2.840.10008.1.20.1", DimseService::Commitment},
  };
  if (auto it = known.find(sop_class); it != known.end()) return it->second;
  if (is_storage) return DimseService::Store;
  return std::nullopt;
}

void AccessPolicy::permit(const std::string& aet, AePermission permission) {
  aes_[aet] = std::move(permission);
}

AccessPolicy::Verdict AccessPolicy::admit(const std::string& calling_aet,
                                          const std::string& peer_address) const {
  const auto it = aes_.find(calling_aet);
  if (it == aes_.end()) return unknown_allowed() ? Verdict::Accept : Verdict::UnknownAe;
  const auto& addresses = it->second.addresses;
  if (!addresses.empty() && addresses.count(peer_address) == 0) return Verdict::WrongAddress;
  return Verdict::Accept;
}

bool AccessPolicy::allows(const std::string& calling_aet, DimseService service) const {
  const auto it = aes_.find(calling_aet);
  if (it == aes_.end()) return unknown_allowed();
  return it->second.services.count(service) > 0;
}

Result<std::pair<std::string, AePermission>> parse_ae_permission(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return fail(ErrorCode::InvalidArgument,
                "AE permission '" + text + "': " + why +
                    " (expected AET=SERVICE[,SERVICE...][@ADDRESS[,ADDRESS...]], services: "
                    "echo, store, find, move, get, worklist, mpps, commitment or all)");
  };
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return bad("no AE title");
  const std::string aet = text.substr(0, eq);
  std::string rest = text.substr(eq + 1), addresses;
  if (const auto at = rest.find('@'); at != std::string::npos) {
    addresses = rest.substr(at + 1);
    rest.resize(at);
    if (addresses.empty()) return bad("no address after @");
  }
  AePermission permission;
  for (const auto& word : split_commas(rest)) {
    auto services = parse_services(word);
    if (!services) return bad("'" + word + "' is not a service");
    permission.services.insert(services->begin(), services->end());
  }
  if (!addresses.empty())
    for (const auto& address : split_commas(addresses)) {
      if (address.empty()) return bad("an empty address");
      permission.addresses.insert(address);
    }
  return std::pair{aet, std::move(permission)};
}

}  // namespace pacs::dimse
