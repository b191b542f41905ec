// How two sets of a patient's demographics compare, as a reconciling operator reads them: names
// on family name and first given name, ignoring case, spaces, punctuation and the rest of the
// name (middle names, prefixes, suffixes), with an initial matching a given name that starts with
// it; birth dates exactly, or within a tolerance of days.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace pacs {

// A DICOM DA (YYYYMMDD) as a day; nullopt when it is not a valid date.
std::optional<std::chrono::sys_days> day_of_date(const std::string& da);

enum class Agreement {
  Unknown,    // one side is empty: nothing to compare
  Same,       // equal as compared
  Similar,    // names: family and given swapped;
              // birth dates: within the tolerance, or the same digits with day and month swapped
  Different,  // beyond the tolerance
};
const char* to_string(Agreement agreement);

// PN values (Family^Given^Middle^Prefix^Suffix, the alphabetic group).
Agreement compare_names(const std::string& a, const std::string& b);
// DA values (YYYYMMDD).
Agreement compare_birth_dates(const std::string& a, const std::string& b, int tolerance_days = 0);

// Two sets that cannot both be right about one person: a name or a birth date Different.
bool demographics_conflict(const std::string& name_a, const std::string& birth_date_a,
                           const std::string& name_b, const std::string& birth_date_b,
                           int tolerance_days = 0);

}  // namespace pacs
