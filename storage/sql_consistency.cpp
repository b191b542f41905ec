#include "storage/sql_consistency.h"

#include <set>
#include <string>

namespace pacs::sql_consistency {
namespace {

using sql::Value;

// One kept figure per row of `table`, recorded beside the value the rows below give; a row per
// entity: pk, label, recorded, actual.
struct CountCheck {
  const char* table;
  const char* noun;
  const char* label;  // what names the entity in a report: a UID, or the row's key for patients
  const char* field;
  const char* actual;  // a correlated subquery over the rows below, for entity `e`
};

// The definitions ingest maintains (see SqlIndex::write_one): series and studies count as rows,
// instances as rows.
constexpr CountCheck kCountChecks[] = {
    {"series", "series", "e.series_uid", "num_instances",
     "(SELECT COUNT(*) FROM instances i WHERE i.series_pk = e.pk)"},
    {"studies", "study", "e.study_uid", "num_series",
     "(SELECT COUNT(*) FROM series se WHERE se.study_pk = e.pk)"},
    {"studies", "study", "e.study_uid", "num_instances",
     "(SELECT COUNT(*) FROM instances i JOIN series se ON se.pk = i.series_pk "
     "WHERE se.study_pk = e.pk)"},
    {"patients", "patient", "'#' || e.pk", "num_studies",
     "(SELECT COUNT(*) FROM studies st WHERE st.patient_pk = e.pk)"},
    {"patients", "patient", "'#' || e.pk", "num_series",
     "(SELECT COUNT(*) FROM series se JOIN studies st ON st.pk = se.study_pk "
     "WHERE st.patient_pk = e.pk)"},
    {"patients", "patient", "'#' || e.pk", "num_instances",
     "(SELECT COUNT(*) FROM instances i JOIN series se ON se.pk = i.series_pk "
     "JOIN studies st ON st.pk = se.study_pk WHERE st.patient_pk = e.pk)"},
};

std::string joined(const std::vector<sql::Row>& rows) {
  std::set<std::string> items;
  for (const auto& r : rows)
    if (const std::string item = r.text(0); !item.empty()) items.insert(item);
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : "\\") + item;
  return out;
}

struct StudySets {
  std::string modalities, sop_classes;
};

StudySets actual_sets(sql::Connection& c, std::int64_t study_pk) {
  const Value key[] = {study_pk};
  return {joined(c.query("SELECT DISTINCT modality FROM series WHERE study_pk = ?", key)),
          joined(c.query("SELECT DISTINCT i.sop_class FROM instances i JOIN series se ON "
                         "se.pk = i.series_pk WHERE se.study_pk = ?",
                         key))};
}

}  // namespace

void refresh_study_sets(sql::Connection& c, std::int64_t study_pk) {
  const StudySets sets = actual_sets(c, study_pk);
  const Value params[] = {sets.modalities, sets.sop_classes, study_pk};
  c.query("UPDATE studies SET modalities = ?, sop_classes = ? WHERE pk = ?", params);
}

std::vector<CountMismatch> verify_counts(sql::Connection& c, bool repair) {
  std::vector<CountMismatch> found;
  for (const CountCheck& check : kCountChecks) {
    const std::string table = check.table, field = check.field;
    const auto rows =
        c.query("SELECT e.pk, " + std::string(check.label) + ", e." + field + ", " + check.actual +
                " FROM " + table + " e WHERE e." + field + " <> " + check.actual);
    for (const auto& r : rows) {
      found.push_back({std::string(check.noun) + " " + r.text(1), field,
                       std::to_string(r.integer(2)), std::to_string(r.integer(3))});
      if (repair) {
        const Value params[] = {r.integer(3), r.integer(0)};
        c.query("UPDATE " + table + " SET " + field + " = ? WHERE pk = ?", params);
      }
    }
  }
  for (const auto& study : c.query("SELECT pk, study_uid, modalities, sop_classes FROM studies")) {
    const StudySets actual = actual_sets(c, study.integer(0));
    bool differs = false;
    if (actual.modalities != study.text(2)) {
      found.push_back({"study " + study.text(1), "modalities", study.text(2), actual.modalities});
      differs = true;
    }
    if (actual.sop_classes != study.text(3)) {
      found.push_back({"study " + study.text(1), "sop_classes", study.text(3), actual.sop_classes});
      differs = true;
    }
    if (differs && repair) refresh_study_sets(c, study.integer(0));
  }
  return found;
}

}  // namespace pacs::sql_consistency
