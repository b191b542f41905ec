#include "security/authenticator.h"

#include <algorithm>
#include <cctype>

#include "security/encoding.h"
#include "security/secrets.h"

namespace pacs::security {
namespace {

constexpr auto kBasicMemory = std::chrono::minutes(5);
constexpr std::size_t kBasicMemoryEntries = 1024;

// "Bearer xyz" -> "xyz" for the scheme (case-insensitive, RFC 7235 2.1).
std::optional<std::string_view> credentials_of(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(scheme[i])))
      return std::nullopt;
  auto rest = header.substr(scheme.size() + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  return rest;
}

unsigned with_implied(unsigned access) {
  return access & kAdmin ? access | kRead | kWrite : access;
}

// A SMART scope's permissions: v1 "read" / "write" / "*", or v2 letters in "cruds".
unsigned smart_permissions(std::string_view permissions) {
  if (permissions == "read") return kRead;
  if (permissions == "write") return kWrite;
  if (permissions == "*") return kRead | kWrite;
  if (permissions.empty() || permissions.find_first_not_of("cruds") != permissions.npos) return 0;
  unsigned out = 0;
  if (permissions.find_first_of("rs") != permissions.npos) out |= kRead;
  if (permissions.find_first_of("cud") != permissions.npos) out |= kWrite;
  return out;
}

}  // namespace

std::optional<Access> parse_access(std::string_view word) {
  if (word == "read") return kRead;
  if (word == "write") return kWrite;
  if (word == "admin") return kAdmin;
  return std::nullopt;
}

std::string_view access_name(Access access) {
  return access == kRead ? "read" : access == kWrite ? "write" : "admin";
}

unsigned access_of_scopes(const std::vector<std::string>& scopes) {
  unsigned out = 0;
  for (const auto& scope : scopes) {
    if (scope.starts_with("pacsnode.")) {
      if (auto access = parse_access(std::string_view(scope).substr(9))) out |= *access;
      continue;
    }
    const auto slash = scope.find('/'), dot = scope.rfind('.');
    if (slash == std::string::npos || dot == std::string::npos || dot < slash) continue;
    const std::string_view context = std::string_view(scope).substr(0, slash);
    const std::string_view resource = std::string_view(scope).substr(slash + 1, dot - slash - 1);
    if (context != "patient" && context != "user" && context != "system") continue;
    if (resource != "*" && resource != "ImagingStudy") continue;
    // SMART v2 may add a query after the permissions (user/ImagingStudy.rs?patient=1): not
    // understood here, so it grants nothing rather than more than meant.
    out |= smart_permissions(std::string_view(scope).substr(dot + 1));
  }
  return with_implied(out);
}

Result<std::unique_ptr<Authenticator>> Authenticator::create(const AuthSettings& settings) {
  std::unique_ptr<Authenticator> out(new Authenticator(settings));
  const bool any_jwt =
      !settings.jwt_issuer.empty() || !settings.jwt_audience.empty() || !settings.jwks_file.empty();
  if (any_jwt) {
    if (settings.jwt_issuer.empty() || settings.jwt_audience.empty() || settings.jwks_file.empty())
      return fail(ErrorCode::InvalidArgument,
                  "JWT authentication needs an issuer, an audience and a JWKS file, all three");
    auto keys = KeySet::load(settings.jwks_file);
    if (!keys) return tl::unexpected(keys.error());
    out->keys_ = std::move(*keys);
    out->policy_ = {settings.jwt_issuer, settings.jwt_audience, std::chrono::seconds(60)};
  }
  for (const auto* list : {&settings.api_tokens, &settings.basic_users})
    for (const auto& credential : *list) {
      if (credential.name.empty() || credential.access == 0)
        return fail(ErrorCode::InvalidArgument, "a credential needs a name and an access");
      if (auto ok = check_stored_secret(credential.hash); !ok)
        return fail(ErrorCode::InvalidArgument,
                    "credential '" + credential.name + "': " + ok.error().message);
    }
  for (auto* list : {&out->settings_.api_tokens, &out->settings_.basic_users})
    for (auto& credential : *list) credential.access = with_implied(credential.access);
  return out;
}

std::optional<Caller> Authenticator::basic_caller(std::string_view credentials,
                                                  std::string& reason) const {
  const auto decoded = base64_decode(credentials);
  const auto colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) {
    reason = "malformed Basic credentials";
    return std::nullopt;
  }
  const std::string name = decoded->substr(0, colon);
  const auto user = std::find_if(settings_.basic_users.begin(), settings_.basic_users.end(),
                                 [&](const Credential& c) { return c.name == name; });
  if (user == settings_.basic_users.end()) {
    reason = "unknown user or wrong password";
    return std::nullopt;
  }
  const std::string memo = sha256(*decoded);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(verified_mu_);
    if (auto it = verified_.find(memo); it != verified_.end() && now - it->second < kBasicMemory)
      return Caller{name, user->access};
  }
  if (!verify_secret(user->hash, decoded->substr(colon + 1))) {
    reason = "unknown user or wrong password";
    return std::nullopt;
  }
  std::lock_guard lock(verified_mu_);
  if (verified_.size() >= kBasicMemoryEntries) verified_.clear();
  verified_[memo] = now;
  return Caller{name, user->access};
}

Decision Authenticator::decide(std::string_view authorization, Access needed,
                               std::time_t now) const {
  Decision out;
  if (authorization.empty()) {
    out.reason = "authentication required";
    return out;
  }
  std::optional<Caller> caller;
  if (auto bearer = credentials_of(authorization, "Bearer")) {
    // A JWT has two dots; an API token (random base64url or hex) has none.
    if (bearer->find('.') != std::string_view::npos) {
      if (!keys_) {
        out.reason = "JWTs are not accepted here";
        return out;
      }
      auto token = verify_jwt(*bearer, *keys_, policy_, now);
      if (!token) {
        out.reason = token.error().message;
        return out;
      }
      caller = Caller{token->subject, access_of_scopes(token->scopes)};
    } else {
      for (const auto& credential : settings_.api_tokens)
        if (verify_secret(credential.hash, *bearer))
          caller = Caller{credential.name, credential.access};
      if (!caller) {
        out.reason = "unknown API token";
        return out;
      }
    }
  } else if (auto basic = credentials_of(authorization, "Basic"); basic && basic_enabled()) {
    caller = basic_caller(*basic, out.reason);
    if (!caller) return out;
  } else {
    out.reason = basic_enabled() ? "use Bearer or Basic authentication" : "use a Bearer token";
    return out;
  }
  out.caller = *caller;
  if ((caller->access & needed) == 0) {
    out.kind = Decision::Forbidden;
    out.reason = "this needs " + std::string(access_name(needed)) + " access";
    return out;
  }
  out.kind = Decision::Allowed;
  out.reason.clear();
  return out;
}

std::string Authenticator::challenge(const Decision& decision) const {
  auto quoted = [](const std::string& text) {
    std::string out;
    for (char c : text)
      if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
    return "\"" + out + "\"";
  };
  std::string value = "Bearer realm=\"pacsnode\"";
  if (decision.kind == Decision::Forbidden)
    value += ", error=\"insufficient_scope\", error_description=" + quoted(decision.reason);
  else if (decision.reason != "authentication required")
    value += ", error=\"invalid_token\", error_description=" + quoted(decision.reason);
  if (basic_enabled()) value += ", Basic realm=\"pacsnode\", charset=\"UTF-8\"";
  return value;
}

}  // namespace pacs::security
