// The query service: a C-FIND identifier becomes one FindQuery for the index plus the keys to
// return; each match becomes a response identifier. PS3.4 C.2.2.2 (matching) and C.4.1 (C-FIND).
#pragma once

#include <dcmtk/dcmdata/dcdatset.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "storage/find.h"
#include "storage/index.h"

namespace pacs {

// Worklist: Modality Worklist (PS3.4 K.6.1): the scheduled procedure steps of open orders.
enum class QueryModel { PatientRoot, StudyRoot, Worklist };

// A key that is matched in memory, against the stored attributes of the match: the keys the
// index has no column for.
// A key matched against the stored attributes rather than an index column. A sequence key
// (PS3.4 C.2.2.2.6) holds the conditions on the keys of its one item; some stored item must
// meet them all.
struct AttributeCondition {
  DcmTagKey tag;
  Condition::Kind kind;
  std::vector<std::string> values;
  bool person_name = false;
  bool sequence = false;
  std::vector<AttributeCondition> item_conditions;
};

struct ParsedFind {
  QueryModel model;
  FindQuery query;
  std::vector<AttributeCondition> attribute_conditions;
  std::vector<DcmTagKey> return_keys;  // every key of the request, in its order
  std::vector<DcmTagKey> stored_keys;  // the stored attributes the answer needs, sorted
  // Sequence keys whose item names sub-attributes: answers hold those only (an empty item, or
  // none, asks for whole items).
  std::map<DcmTagKey, std::shared_ptr<const DcmItem>> sequence_requests;
  std::string level_name;              // as requested: PATIENT, STUDY, SERIES, IMAGE
  std::string response_character_set;  // the requester's, to answer in (empty: default repertoire)
  // Some key with a value cannot be matched at this level (we keep no such attribute there): it
  // was ignored, and the pending responses say so (FF01).
  bool unsupported_optional_keys = false;
};

struct FindSummary {
  std::size_t matches = 0;
  bool limited = false;  // the result limit cut the list
};

class QueryService {
 public:
  QueryService(Index& index, std::string retrieve_aet, std::size_t max_results);

  // Fails with InvalidObject (and a message for the Error Comment) when the identifier cannot be
  // a query of that model: no or unknown Query/Retrieve Level.
  Result<ParsedFind> parse(DcmDataset& identifier, QueryModel model) const;

  // Calls emit with each response identifier until it returns false (a C-CANCEL, a broken
  // association).
  Result<FindSummary> find(const ParsedFind& find,
                           const std::function<bool(DcmDataset&)>& emit) const;

  // A modality (calling AE) was answered these worklist items: their orders' timelines show its
  // first query. A failure is logged, not returned: the query was answered.
  void note_worklist_query(const std::vector<std::string>& accession_numbers,
                           const std::string& calling_ae, std::int64_t answered_ms) const;

 private:
  Index& index_;
  std::string retrieve_aet_;
  std::size_t max_results_;
  // (accession, calling AE) pairs already on their timelines: a modality's repeated queries cost
  // nothing more. Forgotten all at once when it grows past a bound.
  mutable std::mutex noted_mu_;
  mutable std::unordered_set<std::string> noted_;
};

}  // namespace pacs
