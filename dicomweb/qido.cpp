// QIDO-RS (PS3.18 10.6): query parameters become a C-FIND identifier for the query service, so
// QIDO and C-FIND match the same way; the answers become DICOM JSON.
#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dctag.h>

#include <charconv>
#include <limits>

#include "dicomweb/dicom_json.h"
#include "dicomweb/handlers.h"
#include "dicomweb/url.h"
#include "security/audit_trail.h"
#include "security/encoding.h"
#include "storage/dicom_attributes.h"

namespace pacs::web {
namespace {

// PS3.18 Tables 10.6.3-3 to -5: what each level returns without includefield.
const DcmTagKey kStudyDefaults[] = {DCM_StudyDate,
                                    DCM_StudyTime,
                                    DCM_AccessionNumber,
                                    DCM_InstanceAvailability,
                                    DCM_ModalitiesInStudy,
                                    DCM_ReferringPhysicianName,
                                    DCM_TimezoneOffsetFromUTC,
                                    DCM_RetrieveURL,
                                    DCM_PatientName,
                                    DCM_PatientID,
                                    DCM_PatientBirthDate,
                                    DCM_PatientSex,
                                    DCM_StudyInstanceUID,
                                    DCM_StudyID,
                                    DCM_NumberOfStudyRelatedSeries,
                                    DCM_NumberOfStudyRelatedInstances};
const DcmTagKey kSeriesDefaults[] = {DCM_Modality,
                                     DCM_TimezoneOffsetFromUTC,
                                     DCM_SeriesDescription,
                                     DCM_RetrieveURL,
                                     DCM_SeriesInstanceUID,
                                     DCM_SeriesNumber,
                                     DCM_NumberOfSeriesRelatedInstances,
                                     DCM_PerformedProcedureStepStartDate,
                                     DCM_PerformedProcedureStepStartTime,
                                     DCM_RequestAttributesSequence};
const DcmTagKey kInstanceDefaults[] = {DCM_SOPClassUID,
                                       DCM_SOPInstanceUID,
                                       DCM_InstanceAvailability,
                                       DCM_TimezoneOffsetFromUTC,
                                       DCM_RetrieveURL,
                                       DCM_InstanceNumber,
                                       DCM_Rows,
                                       DCM_Columns,
                                       DCM_BitsAllocated,
                                       DCM_NumberOfFrames};

// An attribute by keyword (PatientID) or tag (00100020).
std::optional<DcmTag> tag_named(const std::string& name) {
  if (name.size() == 8 && name.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    unsigned value = 0;
    std::from_chars(name.data(), name.data() + 8, value, 16);
    return DcmTag(static_cast<Uint16>(value >> 16), static_cast<Uint16>(value & 0xffff));
  }
  DcmTag tag;
  if (DcmTag::findTagFromName(name.c_str(), tag).bad()) return std::nullopt;
  return tag;
}

// Puts a key (a dotted path into sequence items for nested ones) into the identifier. Returns an
// error message, or an empty string.
std::string put_key(DcmItem& identifier, const std::string& path, const std::string* value) {
  DcmItem* item = &identifier;
  std::size_t from = 0;
  // Bounded by the path: every pass consumes one dotted component.
  for (;;) {
    const std::size_t dot = path.find('.', from);
    const std::string name = path.substr(from, dot == std::string::npos ? dot : dot - from);
    const auto tag = tag_named(name);
    if (!tag) return "unknown attribute '" + name + "'";
    if (dot == std::string::npos) {
      if (tag->getEVR() == EVR_SQ) {
        if (value && !value->empty()) return "'" + name + "' is a sequence and takes no value";
        DcmItem* ignored = nullptr;
        // An empty item: the whole sequence is returned.
        item->findOrCreateSequenceItem(*tag, ignored, 0);
        return {};
      }
      if (!value) {
        DcmElement* existing = nullptr;
        if (item->findAndGetElement(*tag, existing).bad()) item->insertEmptyElement(*tag);
        return {};
      }
      std::string text = *value;
      // UID lists are comma-separated in QIDO, backslash-separated in DICOM.
      if (tag->getEVR() == EVR_UI)
        for (char& c : text)
          if (c == ',') c = '\\';
      if (item->putAndInsertString(*tag, text.c_str()).bad())
        return "invalid value for '" + name + "'";
      return {};
    }
    if (tag->getEVR() != EVR_SQ) return "'" + name + "' is not a sequence";
    DcmItem* nested = nullptr;
    if (item->findOrCreateSequenceItem(*tag, nested, 0).bad() || nested == nullptr)
      return "cannot use '" + name + "' as a sequence";
    item = nested;
    from = dot + 1;
  }
}

std::string entity_url(const std::string& base, DcmDataset& answer, const std::string& level) {
  OFString study, series, instance;
  answer.findAndGetOFString(DCM_StudyInstanceUID, study);
  std::string url = base + "/studies/" + study.c_str();
  if (level == "STUDY") return url;
  answer.findAndGetOFString(DCM_SeriesInstanceUID, series);
  url += std::string("/series/") + series.c_str();
  if (level == "SERIES") return url;
  answer.findAndGetOFString(DCM_SOPInstanceUID, instance);
  return url + "/instances/" + instance.c_str();
}

// What a search will do, or why it cannot be done (a 400 message). Plain code, not a coroutine:
// GCC 12 miscompiles co_return from inside loops of a coroutine, so the coroutine below only
// decides and awaits.
struct SearchPlan {
  std::optional<ParsedFind> parsed;
  std::size_t offset = 0, limit = std::numeric_limits<std::size_t>::max();
  std::vector<std::string> warnings;
  std::string error;
};

SearchPlan plan_search(const WebContext& context, const std::string& level,
                       const ResourceUids& within, const QueryParameters& parameters,
                       const std::string& base) {
  SearchPlan plan;
  DcmDataset identifier;
  identifier.putAndInsertString(DCM_QueryRetrieveLevel, level.c_str());
  // What the resource returns by default: its level's attributes, and for searches across
  // studies (/series, /instances) the study's too (PS3.18 10.6.3.3).
  std::vector<Level> levels;
  if (within.study.empty()) levels.push_back(Level::Study);
  if (level != "STUDY" && within.series.empty()) levels.push_back(Level::Series);
  if (level == "IMAGE") levels.push_back(Level::Instance);
  if (level == "STUDY") levels = {Level::Study};
  for (const Level l : levels) {
    std::span<const DcmTagKey> defaults = kInstanceDefaults;
    if (l == Level::Study) defaults = kStudyDefaults;
    if (l == Level::Series) defaults = kSeriesDefaults;
    for (const DcmTagKey& tag : defaults) {
      if (tag == DCM_RequestAttributesSequence) {
        DcmItem* ignored = nullptr;
        identifier.findOrCreateSequenceItem(tag, ignored, 0);
      } else {
        identifier.insertEmptyElement(tag);
      }
    }
  }
  if (!within.study.empty())
    identifier.putAndInsertString(DCM_StudyInstanceUID, within.study.c_str());
  if (!within.series.empty())
    identifier.putAndInsertString(DCM_SeriesInstanceUID, within.series.c_str());

  for (const auto& [name, value] : parameters) {
    if (name == "limit" || name == "offset") {
      const auto count = number_in(value, 0, std::numeric_limits<std::size_t>::max());
      if (!count) {
        plan.error = name + " must be a non-negative integer, got '" + value + "'";
        return plan;
      }
      (name == "limit" ? plan.limit : plan.offset) = *count;
      continue;
    }
    if (name == "fuzzymatching") {
      if (value == "true")
        plan.warnings.push_back("299 " + base +
                                ": The fuzzymatching parameter is not supported. Only literal "
                                "matching has been performed.");
      else if (value != "false")
        plan.error = "fuzzymatching must be true or false";
      if (!plan.error.empty()) return plan;
      continue;
    }
    if (name == "includefield") {
      std::size_t from = 0;
      // Bounded by the value: every pass consumes one comma-separated field.
      while (from <= value.size()) {
        const std::size_t comma = value.find(',', from);
        const std::string field =
            value.substr(from, comma == std::string::npos ? comma : comma - from);
        from = comma == std::string::npos ? value.size() + 1 : comma + 1;
        if (field.empty()) continue;
        if (field == "all") {
          for (const Level l : levels) {
            if (l == Level::Study)
              for (const DcmTagKey& tag : level_tags(Level::Patient))
                if (!identifier.tagExists(tag)) identifier.insertEmptyElement(tag);
            for (const DcmTagKey& tag : level_tags(l))
              if (!identifier.tagExists(tag)) identifier.insertEmptyElement(tag);
          }
          continue;
        }
        if (auto error = put_key(identifier, field, nullptr); !error.empty()) {
          plan.error = "includefield: " + error;
          return plan;
        }
      }
      continue;
    }
    if (name == "QueryRetrieveLevel" || name == "00080052") {
      plan.error = "QueryRetrieveLevel is set by the resource, not by a parameter";
      return plan;
    }
    if (auto error = put_key(identifier, name, &value); !error.empty()) {
      plan.error = error;
      return plan;
    }
  }
  auto parsed = context.query.parse(identifier, QueryModel::StudyRoot);
  if (!parsed) {
    plan.error = parsed.error().message;
    return plan;
  }
  if (parsed->unsupported_optional_keys)
    plan.warnings.push_back("299 " + base +
                            ": Some matching attributes are not kept at this level and were "
                            "ignored.");
  plan.parsed = std::move(*parsed);
  return plan;
}

struct SearchOutcome {
  std::string body;
  Result<FindSummary> summary;
};

SearchOutcome run_search(const WebContext& context, const SearchPlan& plan, const std::string& base,
                         const std::string& level) {
  std::string body = "[";
  std::size_t seen = 0, returned = 0;
  auto summary = context.query.find(*plan.parsed, [&](DcmDataset& answer) {
    if (seen++ < plan.offset) return true;
    if (returned == plan.limit) return false;
    answer.findAndDeleteElement(DCM_QueryRetrieveLevel);
    if (answer.tagExists(DCM_RetrieveURL))
      answer.putAndInsertString(DCM_RetrieveURL, entity_url(base, answer, level).c_str());
    if (returned++ > 0) body += ',';
    body += to_dicom_json(answer);
    return true;
  });
  body += "]";
  return {std::move(body), std::move(summary)};
}

}  // namespace

namespace {
// QIDO-RS is audited as a query on the Study Root C-FIND model (PS3.15 A.5.3.12).
constexpr const char* kStudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1";
}  // namespace

net::awaitable<void> search(Exchange& exchange, const WebContext& context,
                            const SearchRequest& request) {
  const std::string& level = request.level;
  const std::string base = base_url(exchange, context);
  SearchPlan plan = plan_search(context, level, request.within, request.parameters, base);
  // The query as the client sent it (the target's query string), in the audit trail.
  const auto target = exchange.target();
  const auto question = target.find('?');
  audit::record(audit::query(
      plan.error.empty() ? 0 : 4, requestor(exchange), audit::node_participant(context.aet, false),
      kStudyRootFind,
      security::base64_encode(question == std::string_view::npos ? std::string_view()
                                                                 : target.substr(question + 1))));
  if (!plan.error.empty()) {
    reply_error(exchange, http::status::bad_request, plan.error);
    co_return;
  }
  SearchOutcome outcome =
      co_await exchange.blocking([&] { return run_search(context, plan, base, level); });
  if (!outcome.summary) {
    reply_error(exchange, http::status::service_unavailable, outcome.summary.error().message);
    co_return;
  }
  if (outcome.summary->limited)
    plan.warnings.push_back("299 " + base +
                            ": The result was cut at the server's maximum; use limit and offset.");
  Headers headers;
  for (auto& w : plan.warnings) headers.emplace_back("Warning", std::move(w));
  exchange.respond(http::status::ok, "application/dicom+json", std::move(outcome.body),
                   std::move(headers));
}

}  // namespace pacs::web
