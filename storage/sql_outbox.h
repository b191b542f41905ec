// The outbound HL7 side of the index: the outbox of events for the RIS/EHR destinations, the
// detection of complete studies, and the facts a message states about a study. Each function runs
// inside the caller's transaction where it writes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "storage/model/orders.h"
#include "storage/sql/connection.h"

namespace pacs::sql_outbox {

// One pending outbox item per destination.
void enqueue(sql::Connection& c, const std::vector<std::string>& destinations,
             const std::string& event, const std::string& subject, const std::string& detail);
// A stored instance of the study arrived now: the study is active (and not complete) again. Writes
// at most once a second per study.
void touch_study(sql::Connection& c, const std::string& study_uid);
// What the study's announcement said is no longer true (an operator linked it to an order or
// moved it to another patient): a complete study becomes incomplete, so the next pass of
// complete_quiet_studies announces it again with what the index says now.
void announce_again(sql::Connection& c, const std::string& study_uid);
// The study is complete now, if it is stored and not complete yet: study-complete items.
void complete_study(sql::Connection& c, const std::string& study_uid,
                    const std::vector<std::string>& destinations);
std::size_t complete_quiet_studies(sql::Connection& c, std::int64_t quiet_before_ms,
                                   const std::vector<std::string>& destinations, std::size_t limit);
std::vector<OutboxItem> items(sql::Connection& c, const std::string& where,
                              const std::vector<sql::Value>& params, std::size_t limit);
std::map<std::string, std::int64_t> counts(sql::Connection& c);
void update(sql::Connection& c, std::int64_t id, const std::string& state,
            std::int64_t next_attempt_ms, const std::string& error);
std::optional<StudyFacts> study_facts(sql::Connection& c, const std::string& study_uid);

}  // namespace pacs::sql_outbox
