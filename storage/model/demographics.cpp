#include "storage/model/demographics.h"

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <optional>

namespace pacs {
namespace {

struct NameCore {
  std::string family, given;
};

// Letters and digits only, upper case: "O'Brien-Smith " and "OBRIENSMITH" are one name.
std::string folded(const std::string& text) {
  std::string out;
  for (const unsigned char c : text)
    if (std::isalnum(c) || c >= 0x80) out += static_cast<char>(std::toupper(c));
  return out;
}

NameCore core_of(const std::string& pn) {
  const std::string alphabetic = pn.substr(0, pn.find('='));
  const auto caret = alphabetic.find('^');
  NameCore core{folded(alphabetic.substr(0, caret)), ""};
  if (caret != std::string::npos) {
    const std::string rest = alphabetic.substr(caret + 1);
    core.given = folded(rest.substr(0, rest.find('^')));
  }
  return core;
}

// Given names agree when equal, or when one is the other's initial.
bool given_agree(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return true;
  if (a.size() == 1 || b.size() == 1) return a.front() == b.front();
  return a == b;
}

}  // namespace

std::optional<std::chrono::sys_days> day_of_date(const std::string& da) {
  if (da.size() != 8) return std::nullopt;
  for (const unsigned char c : da)
    if (!std::isdigit(c)) return std::nullopt;
  const int y = std::atoi(da.substr(0, 4).c_str());
  const unsigned m = static_cast<unsigned>(std::atoi(da.substr(4, 2).c_str()));
  const unsigned d = static_cast<unsigned>(std::atoi(da.substr(6, 2).c_str()));
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m),
                                        std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd);
}

const char* to_string(Agreement agreement) {
  switch (agreement) {
    case Agreement::Unknown:
      return "unknown";
    case Agreement::Same:
      return "same";
    case Agreement::Similar:
      return "similar";
    case Agreement::Different:
      return "different";
  }
  return "unknown";
}

Agreement compare_names(const std::string& a, const std::string& b) {
  const NameCore x = core_of(a), y = core_of(b);
  if ((x.family.empty() && x.given.empty()) || (y.family.empty() && y.given.empty()))
    return Agreement::Unknown;
  // Same family, other given name: a relative, another person.
  if (x.family == y.family)
    return given_agree(x.given, y.given) ? Agreement::Same : Agreement::Different;
  // Family and given swapped (a modality operator typing "Jane Doe" into the family field).
  if (!x.given.empty() && x.family == y.given && x.given == y.family) return Agreement::Similar;
  return Agreement::Different;
}

Agreement compare_birth_dates(const std::string& a, const std::string& b, int tolerance_days) {
  if (a.empty() || b.empty()) return Agreement::Unknown;
  if (a == b) return Agreement::Same;
  const auto x = day_of_date(a), y = day_of_date(b);
  if (!x || !y) return Agreement::Different;
  const auto apart = (*x > *y ? *x - *y : *y - *x).count();
  if (apart <= tolerance_days) return Agreement::Similar;
  // Day and month swapped: 1970-02-01 for 1970-01-02.
  if (a.substr(0, 4) == b.substr(0, 4) && a.substr(4, 2) == b.substr(6, 2) &&
      a.substr(6, 2) == b.substr(4, 2))
    return Agreement::Similar;
  return Agreement::Different;
}

bool demographics_conflict(const std::string& name_a, const std::string& birth_date_a,
                           const std::string& name_b, const std::string& birth_date_b,
                           int tolerance_days) {
  return compare_names(name_a, name_b) == Agreement::Different ||
         compare_birth_dates(birth_date_a, birth_date_b, tolerance_days) == Agreement::Different;
}

}  // namespace pacs
