// De-identification per PS3.15 Annex E: the Basic Application Level Confidentiality Profile, with
// the Retain UIDs, Retain Longitudinal Temporal Information with Full Dates and Clean Descriptors
// options. Pseudonyms and replacement UIDs come from a keyed hash (HMAC-SHA-256 with a key kept in
// the data directory), so a patient and a UID map the same way in every call, study and restart.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dctagkey.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "storage/model/result.h"

class DcmDataset;
class DcmFileFormat;

namespace pacs::deid {

// The profile's options pacsnode offers (PS3.15 E.3), plus the one exception to its refusals.
struct Options {
  bool retain_uids = false;        // E.3.9, code 113110
  bool retain_dates = false;       // E.3.6 with full dates, code 113107
  bool clean_descriptors = false;  // E.3.5, code 113105
  // Objects that may show identifying text in their pixels pass anyway (logged each time).
  bool allow_burned_in = false;
  bool operator==(const Options&) const = default;
};

// "basic", or option names joined by '+': retain-uids, retain-dates, clean-descriptors,
// allow-burned-in (basic may lead, e.g. "basic+retain-uids").
Result<Options> parse_options(std::string_view text);
std::string to_string(const Options& options);  // in the syntax parse_options reads

// One row of PS3.15 Table E.1-1 (deidentify_table.cpp): the Basic Profile's action as the table
// writes it ("X", "Z/D", "X/Z/U*", ...) and, where the table has one, the action under each option
// ('K' or 'C'; 0: none).
struct ProfileRow {
  std::uint16_t group = 0, element = 0;
  const char* basic = "";
  char retain_uids = 0, retain_dates = 0, clean_descriptors = 0;
};
std::span<const ProfileRow> profile_table();
const ProfileRow* profile_row(const DcmTagKey& tag);  // null: the table does not list it

// What is done to one attribute, once the options and the table's compound codes are resolved.
enum class Action {
  Keep,        // unchanged (a sequence's items are still de-identified)
  Remove,      // X
  Zero,        // Z: zero length (a sequence: no items)
  Dummy,       // D: a dummy value of the VR
  Clean,       // C: text with the patient's identifiers taken out; sequences de-identified
  ReplaceUid,  // U: a consistent replacement UID
};
// Compound codes, for want of the IOD's attribute types: X/Z -> Z, X/D, Z/D and X/Z/D -> D (both
// keep the object valid where the attribute is Type 2 or 1), X/Z/U* -> Keep with the sequence's
// items de-identified (which replaces the UIDs they reference). A 'K' option column wins over a
// 'C' one. Private groups, curves (50xx) and overlays (60xx, the whole group) are removed;
// attributes the table does not list are kept.
Action action_for(const DcmTagKey& tag, const Options& options);

struct Pseudonym {
  std::string patient_id, patient_name;
};

class Deidentifier {
 public:
  explicit Deidentifier(std::string key) : key_(std::move(key)) {}
  // The node's de-identifier, with the key in DATA/deidentify.key (made on first use).
  static Result<Deidentifier> open(const std::filesystem::path& data_dir);

  // "2.25." and the decimal of a UUID (version 8, RFC 9562) made from the keyed hash of the UID.
  std::string uid(std::string_view original) const;
  // For a patient as the issuer of the ID knows them.
  Pseudonym pseudonym(std::string_view patient_id, std::string_view issuer) const;

  // Why the object must not be de-identified, or nullopt: pixel data that may show identifying
  // text (Burned In Annotation YES; or absent in a SOP class where burned-in text is common:
  // secondary capture, ultrasound), recognizable visual features, or an encapsulated document.
  // Pixel data is never masked or guessed clean.
  static std::optional<std::string> refusal(DcmDataset& dataset);

  // De-identifies the object in place (data set and meta header). InvalidObject with the
  // refusal's reason when it may not be, unless options.allow_burned_in.
  Result<void> apply(DcmFileFormat& file, const Options& options) const;

 private:
  std::string key_;
};

}  // namespace pacs::deid
