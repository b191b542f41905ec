// What the index learns from a DICOM header: the per-level records and their attribute sets.
#pragma once

#include <span>
#include <string>

#include "storage/find.h"
#include "storage/model/orders.h"
#include "storage/model/records.h"
#include "storage/model/result.h"

class DcmDataset;
class DcmItem;
class DcmTagKey;

namespace pacs {

// Builds the index entry from a header (pixel data need not be loaded). Fails with InvalidObject
// when the Study, Series or SOP Instance UID or the SOP Class UID is missing or malformed.
Result<IndexEntry> index_entry_from(DcmDataset& header, const std::string& transfer_syntax);

// Whether the attributes an index row keeps for `level` (and the levels above it) include `tag`.
// Every attribute of the header is kept at the instance level.
bool kept_at_level(const DcmTagKey& tag, Level level);
// The attributes kept for one level itself (not those above it); the instance level keeps every
// attribute of the header, and this lists none for it.
std::span<const DcmTagKey> level_tags(Level level);

// A person name in the form the index keeps and matches: trailing empty components and component
// groups and trailing spaces removed ("Doe^Jane^^^" -> "Doe^Jane"), PS3.5 6.2.1.
std::string normalized_person_name(const std::string& name);

// The attribute's value in `item` itself (not in its sequences' items) as text, multiple values
// separated by backslashes; "" when absent.
std::string attribute_text(DcmItem& item, const DcmTagKey& tag);

// An encoded attribute set with the patient's values put in (those that are set); text in UTF-8.
std::string with_patient_values(const std::string& encoded, const PatientValues& values);
// An encoded attribute set with another Study Instance UID.
std::string with_study_uid(const std::string& encoded, const std::string& study_uid);

// A level's attributes as stored in the index: Explicit VR Little Endian, bulk data left out.
std::string encode_attributes(DcmDataset& attributes);
Result<void> decode_attributes(const std::string& bytes, DcmDataset& out);
// Only the top-level elements whose tags are in `wanted` (sorted by TagKey order): a query
// answer needs a handful of a level's attributes, and building the others costs more than
// everything else per match. Elements are found by walking the encoding's element headers.
Result<void> decode_attributes(const std::string& bytes, DcmDataset& out,
                               std::span<const DcmTagKey> wanted);

}  // namespace pacs
