// Who may do what on the DIMSE face: per calling AE, the services it may use and, optionally, the
// addresses it must call from. Pure decisions, no DCMTK: the SCP asks at association time.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "storage/model/result.h"

namespace pacs::dimse {

enum class DimseService { Echo, Store, Find, Move, Get, Worklist, Mpps, Commitment };

// "echo", "store", ... or "all"; nullopt for any other word.
std::optional<std::set<DimseService>> parse_services(std::string_view word);
std::string_view service_name(DimseService service);
// The service a SOP class (an abstract syntax) belongs to; nullopt for one we do not serve.
std::optional<DimseService> service_of_sop_class(std::string_view sop_class, bool is_storage);

struct AePermission {
  std::set<DimseService> services;
  std::set<std::string> addresses;  // empty: from any address
};

class AccessPolicy {
 public:
  enum class Verdict { Accept, UnknownAe, WrongAddress };

  // An AE named in the policy; replaces what was there.
  void permit(const std::string& aet, AePermission permission);
  // Whether AEs the policy does not name are refused (with "calling AE title not recognized") or
  // may use every service. Naming any AE makes the policy closed unless this says otherwise.
  void set_unknown_aes_allowed(bool allowed) { unknown_allowed_ = allowed; }

  Verdict admit(const std::string& calling_aet, const std::string& peer_address) const;
  bool allows(const std::string& calling_aet, DimseService service) const;
  bool empty() const { return aes_.empty(); }

 private:
  bool unknown_allowed() const { return unknown_allowed_.value_or(aes_.empty()); }
  std::map<std::string, AePermission> aes_;
  std::optional<bool> unknown_allowed_;
};

// AET=SERVICE[,SERVICE...][@ADDRESS[,ADDRESS...]], e.g. CT1=echo,store@127.0.0.1
Result<std::pair<std::string, AePermission>> parse_ae_permission(const std::string& text);

}  // namespace pacs::dimse
