// Compiles a FindQuery into one SQL statement with '?' parameters (both dialects).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "storage/find.h"

namespace pacs {

struct CompiledFind {
  std::string sql;
  std::vector<std::string> params;
};

// Rows come back in the FindRow field order: patient/study/series/instance attributes (NULL below
// the level), the counts, the sets, the UIDs and the path, the worklist step's status, and whether
// an ADT changed the patient. limit 0 means no limit.
CompiledFind compile_find(const FindQuery& query, std::size_t limit);

// The key a person name is matched on: its first component group, ASCII letters in upper case.
std::string person_name_key(const std::string& name);

// '*' and '?' to LIKE's '%' and '_', escaping LIKE's own specials with '\'.
std::string like_pattern(const std::string& wildcard);

}  // namespace pacs
