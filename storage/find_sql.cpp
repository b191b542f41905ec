#include "storage/find_sql.h"

#include "storage/sql/connection.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace pacs {
namespace {

const char* column_sql(Column c) {
  switch (c) {
    case Column::PatientId:
      return "p.patient_id";
    case Column::IssuerOfPatientId:
      return "p.issuer";
    case Column::PatientName:
      return "p.name";
    case Column::PatientBirthDate:
      return "p.birth_date";
    case Column::PatientSex:
      return "p.sex";
    case Column::StudyUid:
      return "st.study_uid";
    case Column::StudyDate:
      return "st.study_date";
    case Column::StudyTime:
      return "st.study_time";
    case Column::AccessionNumber:
      return "st.accession_number";
    case Column::StudyId:
      return "st.study_id";
    case Column::ReferringPhysician:
      return "st.referring_physician";
    case Column::StudyDescription:
      return "st.description";
    case Column::ModalitiesInStudy:
      return "ms.modality";
    case Column::SeriesUid:
      return "se.series_uid";
    case Column::Modality:
      return "se.modality";
    case Column::SeriesNumber:
      return "se.series_number";
    case Column::SeriesDescription:
      return "se.description";
    case Column::SopInstanceUid:
      return "i.sop_uid";
    case Column::SopClassUid:
      return "i.sop_class";
    case Column::InstanceNumber:
      return "i.instance_number";
    case Column::RequestedProcedureId:
    case Column::ScheduledStationAet:
    case Column::ScheduledModality:
    case Column::ScheduledStartDate:
    case Column::ScheduledStartTime:
    case Column::ScheduledStepId:
    case Column::ScheduledStepStatus:
      break;
  }
  throw std::logic_error("not a column of stored objects");
}

// The worklist table's columns; nullptr for a key it does not keep.
const char* worklist_column_sql(Column c) {
  switch (c) {
    case Column::PatientId:
      return "w.patient_id";
    case Column::IssuerOfPatientId:
      return "w.issuer";
    case Column::PatientName:
      return "w.patient_name";
    case Column::AccessionNumber:
      return "w.accession_number";
    case Column::StudyUid:
      return "w.study_uid";
    case Column::RequestedProcedureId:
      return "w.requested_procedure_id";
    case Column::ScheduledStationAet:
      return "w.station_aet";
    case Column::ScheduledModality:
      return "w.modality";
    case Column::ScheduledStartDate:
      return "w.start_date";
    case Column::ScheduledStartTime:
      return "w.start_time";
    case Column::ScheduledStepId:
      return "w.sps_id";
    case Column::ScheduledStepStatus:
      return "w.status";
    default:
      return nullptr;
  }
}

std::string ascii_upper(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

std::string person_name_key_or_upper(const std::string& value, bool whole_name) {
  return whole_name ? ascii_upper(value) : ascii_upper(value.substr(0, value.find('=')));
}

// "1259" -> "1260": the digit string one above, same length (the caller excludes all nines).
std::string next_digit_string(std::string digits) {
  for (std::size_t i = digits.size(); i-- > 0;) {
    if (digits[i] != '9') {
      ++digits[i];
      return digits;
    }
    digits[i] = '0';
  }
  return digits;
}

// The key column of a person-name column, matched on for queries without '='.
const char* key_column(Column c, bool worklist) {
  if (c == Column::PatientName) return worklist ? "w.name_key" : "p.name_key";
  if (c == Column::ReferringPhysician) return "st.referring_key";
  return nullptr;
}

// One condition on one expression; appends its parameters.
std::string condition_sql(const Condition& c, const std::string& column,
                          std::vector<std::string>& params, bool worklist = false) {
  // Person names: case-insensitive. A query with one component group (the usual case) is matched
  // on the indexed key of the stored name's first group; one with '=' on the whole name.
  const bool pn = c.person_name;
  const bool whole_name =
      pn && std::any_of(c.values.begin(), c.values.end(),
                        [](const std::string& v) { return v.find('=') != std::string::npos; });
  const char* key = pn && !whole_name ? key_column(c.column, worklist) : nullptr;
  const std::string target = key ? key : whole_name ? "UPPER(" + column + ")" : column;
  auto value_of = [&](const std::string& v) {
    return pn ? person_name_key_or_upper(v, whole_name) : v;
  };
  switch (c.kind) {
    case Condition::Kind::Equals:
      params.push_back(value_of(c.values.at(0)));
      return target + " = ?";
    case Condition::Kind::Wildcard:
      params.push_back(like_pattern(value_of(c.values.at(0))));
      return target + " LIKE ? ESCAPE '\\'";
    case Condition::Kind::AnyOf: {
      for (const auto& v : c.values) params.push_back(value_of(v));
      return target + " IN (" + sql::placeholders(c.values.size()) + ")";
    }
    case Condition::Kind::Range: {
      std::string sql;
      if (!c.values.at(0).empty()) {
        sql = column + " >= ?";
        params.push_back(c.values[0]);
      }
      if (c.values.size() > 1 && !c.values[1].empty()) {
        // A high bound includes every value that starts with it ("20260101" includes any time
        // that day in a DT, "1200" any second of that minute in a TM): values below the bound
        // plus one in its last digit ("1201"), one comparison that keeps the condition an index
        // range and orders digits alike under every collation. An all-nines bound has no value
        // above it; a bound with other characters is compared as it is.
        const std::string& high = c.values[1];
        if (high.find_first_not_of("0123456789") != std::string::npos) {
          sql += std::string(sql.empty() ? "" : " AND ") + column + " <= ?";
          params.push_back(high);
        } else if (high.find_first_not_of('9') != std::string::npos) {
          sql += std::string(sql.empty() ? "" : " AND ") + column + " < ?";
          params.push_back(next_digit_string(high));
        }
      }
      return sql.empty() ? "1 = 1" : "(" + sql + ")";
    }
  }
  throw std::logic_error("unknown condition kind");
}

}  // namespace

std::string person_name_key(const std::string& name) {
  std::string key = name.substr(0, name.find('='));
  for (char& ch : key) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return key;
}

Level level_of(Column c) {
  switch (c) {
    case Column::PatientId:
    case Column::IssuerOfPatientId:
    case Column::PatientName:
    case Column::PatientBirthDate:
    case Column::PatientSex:
      return Level::Patient;
    case Column::StudyUid:
    case Column::StudyDate:
    case Column::StudyTime:
    case Column::AccessionNumber:
    case Column::StudyId:
    case Column::ReferringPhysician:
    case Column::StudyDescription:
    case Column::ModalitiesInStudy:
      return Level::Study;
    case Column::SeriesUid:
    case Column::Modality:
    case Column::SeriesNumber:
    case Column::SeriesDescription:
      return Level::Series;
    case Column::SopInstanceUid:
    case Column::SopClassUid:
    case Column::InstanceNumber:
      return Level::Instance;
    case Column::RequestedProcedureId:
    case Column::ScheduledStationAet:
    case Column::ScheduledModality:
    case Column::ScheduledStartDate:
    case Column::ScheduledStartTime:
    case Column::ScheduledStepId:
    case Column::ScheduledStepStatus:
      return Level::Worklist;
  }
  return Level::Instance;
}

std::string like_pattern(const std::string& wildcard) {
  std::string out;
  for (char ch : wildcard) {
    if (ch == '*')
      out += '%';
    else if (ch == '?')
      out += '_';
    else {
      if (ch == '%' || ch == '_' || ch == '\\') out += '\\';
      out += ch;
    }
  }
  return out;
}

namespace {

// The worklist: one row per scheduled step, with its whole worklist item. Steps that are done,
// discontinued or cancelled leave it unless the query asks for a status.
CompiledFind compile_worklist_find(const FindQuery& query, std::size_t limit) {
  CompiledFind out;
  out.sql =
      "SELECT w.attributes, NULL, NULL, NULL, 0, 0, 0, 0, 0, '', '', w.study_uid, 0, '', '', '', "
      "'', '', w.status, 0 FROM worklist w";
  std::vector<std::string> where;
  bool status_asked = false;
  for (const Condition& c : query.conditions) {
    const char* column = worklist_column_sql(c.column);
    if (!column) continue;
    status_asked = status_asked || c.column == Column::ScheduledStepStatus;
    where.push_back(condition_sql(c, column, out.params, true));
  }
  if (!status_asked) where.push_back("w.status IN ('SCHEDULED', 'STARTED')");
  for (std::size_t i = 0; i < where.size(); ++i) out.sql += (i ? " AND " : " WHERE ") + where[i];
  out.sql += " ORDER BY w.pk";
  if (limit) out.sql += " LIMIT " + std::to_string(limit);
  return out;
}

}  // namespace

CompiledFind compile_find(const FindQuery& query, std::size_t limit) {
  const Level level = query.level;
  if (level == Level::Worklist) return compile_worklist_find(query, limit);
  const bool study = level >= Level::Study, series = level >= Level::Series,
             instance = level >= Level::Instance;
  CompiledFind out;
  out.sql = "SELECT p.attributes, ";
  out.sql += study ? "st.attributes, " : "NULL, ";
  out.sql += series ? "se.attributes, " : "NULL, ";
  out.sql += instance ? "i.attributes, " : "NULL, ";
  out.sql += "p.num_studies, p.num_series, p.num_instances, ";
  out.sql += study
                 ? "st.num_series, st.num_instances, st.modalities, st.sop_classes, st.study_uid, "
                 : "0, 0, '', '', '', ";
  out.sql += series ? "se.num_instances, se.series_uid, " : "0, '', ";
  out.sql += instance ? "i.sop_uid, i.path, i.sop_class, i.transfer_syntax, " : "'', '', '', '', ";
  out.sql += "'', p.demographics_changed FROM patients p";
  if (study) out.sql += " JOIN studies st ON st.patient_pk = p.pk";
  if (series) out.sql += " JOIN series se ON se.study_pk = st.pk";
  if (instance) out.sql += " JOIN instances i ON i.series_pk = se.pk";

  std::vector<std::string> where;
  for (const Condition& c : query.conditions) {
    if (level_of(c.column) > level) continue;  // a key below the query level: not ours to match
    if (c.column == Column::ModalitiesInStudy) {
      std::vector<std::string> inner;
      const std::string sub = condition_sql(c, "ms.modality", inner);
      where.push_back("EXISTS (SELECT 1 FROM series ms WHERE ms.study_pk = st.pk AND " + sub + ")");
      out.params.insert(out.params.end(), inner.begin(), inner.end());
      continue;
    }
    where.push_back(condition_sql(c, column_sql(c.column), out.params));
  }
  for (std::size_t i = 0; i < where.size(); ++i) out.sql += (i ? " AND " : " WHERE ") + where[i];
  // A stable order: by the level's key, so repeated queries list the same entities the same way.
  out.sql += instance ? " ORDER BY i.pk"
             : series ? " ORDER BY se.pk"
             : study  ? " ORDER BY st.pk"
                      : " ORDER BY p.pk";
  if (limit) out.sql += " LIMIT " + std::to_string(limit);
  return out;
}

}  // namespace pacs
