#include "dicomweb/multipart.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <random>

namespace pacs::web {
namespace {

// Part headers are a few lines; more than this is not a part header block.
constexpr std::size_t kMaxPartHeaderBytes = 16 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<void> malformed(const std::string& why) {
  return fail(ErrorCode::Malformed, "malformed multipart body: " + why);
}

}  // namespace

std::optional<MediaType> parse_media_type(std::string_view text) {
  MediaType out;
  std::size_t at = text.find(';');
  out.type = lower(trim(text.substr(0, at)));
  if (out.type.empty() || out.type.find('/') == std::string::npos) return std::nullopt;
  // Bounded by the text: every pass consumes one parameter.
  while (at != std::string_view::npos && at < text.size()) {
    text.remove_prefix(at + 1);
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
      if (trim(text).empty()) break;
      return std::nullopt;
    }
    const std::string name = lower(trim(text.substr(0, eq)));
    text.remove_prefix(eq + 1);
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    std::string value;
    if (!text.empty() && text.front() == '"') {
      std::size_t i = 1;
      for (; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        value.push_back(text[i]);
      }
      if (i >= text.size()) return std::nullopt;  // unterminated quote
      text.remove_prefix(i + 1);
      at = text.find(';');
      if (!trim(text.substr(0, at)).empty()) return std::nullopt;
    } else {
      at = text.find(';');
      value = std::string(trim(text.substr(0, at)));
    }
    if (name.empty()) return std::nullopt;
    out.parameters[name] = value;
  }
  return out;
}

std::string new_boundary() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::string out = "pacsnode-";
  for (int i = 0; i < 32; ++i) out.push_back("0123456789abcdef"[random() % 16]);
  return out;
}

std::vector<AcceptedType> parse_accept(std::string_view accept) {
  std::vector<AcceptedType> out;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= accept.size(); ++i) {
    if (i < accept.size() && accept[i] == '"') quoted = !quoted;
    if (i < accept.size() && (accept[i] != ',' || quoted)) continue;
    if (auto type = parse_media_type(accept.substr(start, i - start))) {
      double q = 1.0;
      if (const std::string text = type->parameter("q"); !text.empty()) q = std::atof(text.c_str());
      out.push_back({std::move(*type), q});
    }
    start = i + 1;
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const AcceptedType& a, const AcceptedType& b) { return a.q > b.q; });
  return out;
}

MultipartReader::MultipartReader(std::string boundary, Callbacks callbacks)
    : delimiter_("\r\n--" + boundary), callbacks_(std::move(callbacks)) {}

Result<void> MultipartReader::feed(std::span<const char> bytes) {
  pending_.append(bytes.data(), bytes.size());
  // Bounded: each step consumes input or changes state, and stops when it needs more bytes.
  for (bool progressed = true; progressed;) {
    progressed = false;
    if (auto r = step(progressed); !r) return r;
  }
  return {};
}

Result<void> MultipartReader::step(bool& progressed) {
  switch (state_) {
    case State::Preamble: {
      // The first delimiter may open the body (no CRLF before it) or follow a preamble. Only the
      // body's first bytes can open it: text that merely starts what is left after dropping some
      // preamble does not, however the body was cut into reads.
      const std::string_view first(delimiter_.data() + 2, delimiter_.size() - 2);
      if (at_body_start_) {
        const std::size_t compared = std::min(pending_.size(), first.size());
        if (pending_.compare(0, compared, first.substr(0, compared)) != 0)
          at_body_start_ = false;
        else if (compared < first.size())
          return {};  // could still be the opening delimiter: wait for more
      }
      if (at_body_start_) {
        pending_.erase(0, first.size());
        at_body_start_ = false;
      } else {
        const std::size_t at = pending_.find(delimiter_);
        if (at == std::string::npos) {
          // Keep only what could still begin a delimiter.
          if (pending_.size() > delimiter_.size())
            pending_.erase(0, pending_.size() - delimiter_.size());
          return {};
        }
        pending_.erase(0, at + delimiter_.size());
      }
      state_ = State::AfterDelimiter;
      progressed = true;
      return {};
    }
    case State::AfterDelimiter: {
      if (pending_.size() < 2) return {};
      if (pending_.compare(0, 2, "--") == 0) {
        state_ = State::Done;  // the close delimiter; an epilogue is ignored
        pending_.clear();
        progressed = true;
        return {};
      }
      // Transport padding (spaces, tabs) may precede the CRLF.
      const std::size_t crlf = pending_.find("\r\n");
      if (crlf == std::string::npos) {
        if (pending_.size() > 256) return malformed("no line end after a boundary delimiter");
        return {};
      }
      if (!trim(std::string_view(pending_).substr(0, crlf)).empty())
        return malformed("text after a boundary delimiter");
      pending_.erase(0, crlf + 2);
      state_ = State::Headers;
      progressed = true;
      return {};
    }
    case State::Headers: {
      PartHeaders headers;
      std::size_t end = std::string::npos;
      if (pending_.compare(0, 2, "\r\n") == 0) {
        end = 0;  // no headers at all
      } else {
        const std::size_t blank = pending_.find("\r\n\r\n");
        if (blank == std::string::npos) {
          if (pending_.size() > kMaxPartHeaderBytes) return malformed("part headers too long");
          return {};
        }
        std::string_view block(pending_.data(), blank);
        // Bounded by the block: every pass consumes one line.
        while (!block.empty()) {
          const std::size_t eol = block.find("\r\n");
          const std::string_view line = block.substr(0, eol);
          block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
          const std::size_t colon = line.find(':');
          if (colon == std::string_view::npos || colon == 0)
            return malformed("part header line without a name");
          headers[lower(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
        }
        end = blank + 2;
      }
      pending_.erase(0, end + 2);
      ++parts_;
      state_ = State::Body;
      progressed = true;
      if (callbacks_.begin_part && !callbacks_.begin_part(headers)) return malformed("stopped");
      return {};
    }
    case State::Body: {
      const std::size_t at = pending_.find(delimiter_);
      if (at == std::string::npos) {
        // Everything but what could be the start of a delimiter is part data.
        if (pending_.size() < delimiter_.size()) return {};
        const std::size_t safe = pending_.size() - (delimiter_.size() - 1);
        if (callbacks_.part_data && !callbacks_.part_data({pending_.data(), safe}))
          return malformed("stopped");
        pending_.erase(0, safe);
        return {};
      }
      if (at > 0 && callbacks_.part_data && !callbacks_.part_data({pending_.data(), at}))
        return malformed("stopped");
      pending_.erase(0, at + delimiter_.size());
      state_ = State::AfterDelimiter;
      progressed = true;
      if (callbacks_.end_part && !callbacks_.end_part()) return malformed("stopped");
      return {};
    }
    case State::Done:
      pending_.clear();
      return {};
  }
  return {};
}

Result<void> MultipartReader::finish() {
  if (state_ == State::Done) return {};
  if (state_ == State::Preamble) return malformed("no boundary delimiter found");
  return malformed("the body ends before the closing boundary delimiter");
}

}  // namespace pacs::web
