// The HL7 v2 message model: splits ER7 text ("pipe and hat") into segments and fields, reads
// values with their escapes undone, and writes the text back unchanged. It knows the encoding
// rules only (HL7 v2 Chapter 2), not what any message type means.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/model/result.h"

namespace pacs::hl7 {

// The encoding characters of one message, read from its MSH-1 and MSH-2: a message may choose
// other characters than the usual ones, so nothing else hard-codes them.
struct Delimiters {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
  // MSH-2 characters after the first four (v2.7 adds the truncation character '#'), kept so that
  // writing the message reproduces its MSH-2.
  std::string extra;

  // MSH-2 as written: component, repetition, escape, subcomponent, then `extra`.
  std::string encoding_characters() const;
  bool operator==(const Delimiters&) const = default;
};

// One segment: a 3-character ID and its fields as raw (still escaped) text. Fields are numbered
// from 1 as in the HL7 tables. In MSH, MSH-1 is the field separator and MSH-2 the encoding
// characters, so MSH-3 is the first field after them.
class Segment {
 public:
  // An empty segment. For "MSH", MSH-1 and MSH-2 are filled from `delimiters`.
  Segment(std::string id, Delimiters delimiters);

  const std::string& id() const { return id_; }
  // The highest field number present, counting empty fields that were written out ("A||" has 2).
  std::size_t field_count() const { return fields_.size(); }
  // The escaped text of field `field`; "" when absent or when `field` is 0.
  std::string_view raw(std::size_t field) const;
  // One value with its escapes undone: `field`, `component` and `subcomponent` count from 1,
  // `repetition` from 0. "" when any part is absent or a number is 0. MSH-1 and MSH-2 are returned
  // as they are (they are the delimiters, not data to split).
  std::string value(std::size_t field, std::size_t component = 1, std::size_t subcomponent = 1,
                    std::size_t repetition = 0) const;
  // 0 for an absent or empty field, else the number of repetitions (empty ones included).
  std::size_t repetition_count(std::size_t field) const;
  // Replaces field `field` (from 1) with already-escaped text, adding empty fields up to it (field
  // numbers come from the caller's code, not from input). Field 0 and, in MSH, MSH-1 and MSH-2 are
  // left alone: they follow the message's delimiters.
  void set(std::size_t field, std::string raw_escaped);

  // The segment as ER7 text without its terminator.
  std::string write() const;

 private:
  friend class Message;
  bool is_msh() const { return id_ == "MSH"; }

  std::string id_;
  Delimiters delimiters_;
  std::vector<std::string> fields_;  // fields_[n - 1] holds field n
};

// A whole message: its delimiters and segments in order.
class Message {
 public:
  // An empty message to build with add(); start with add("MSH").
  explicit Message(Delimiters delimiters = {}) : delimiters_(std::move(delimiters)) {}

  // Segments may end with CR, LF or CRLF, mixed; empty and blank lines are skipped. Fails
  // (Malformed) when the first segment is not MSH, MSH-1/MSH-2 are missing or unusable, or a
  // segment does not start with a 3-character ID of uppercase letters and digits. Error texts
  // name segments by position, never by content (the content is patient data).
  static Result<Message> parse(std::string_view text);

  // Every segment terminated by CR. For text parsed from CR-terminated segments without blank
  // lines, write() returns that text byte for byte.
  std::string write() const;

  const Delimiters& delimiters() const { return delimiters_; }
  const std::vector<Segment>& segments() const { return segments_; }
  // The `occurrence`-th (from 0) segment with this ID, or nullptr.
  const Segment* find(std::string_view id, std::size_t occurrence = 0) const;
  std::vector<const Segment*> all(std::string_view id) const;
  // Appends an empty segment; the reference is valid until the next add(). The ID is not checked:
  // the caller builds known segments.
  Segment& add(std::string id);

  // MSH shortcuts, unescaped unless marked raw; "" when absent.
  std::string message_type() const;         // MSH-9.1, e.g. "ORM"
  std::string trigger_event() const;        // MSH-9.2, e.g. "O01"
  std::string control_id() const;           // MSH-10
  std::string processing_id() const;        // MSH-11.1
  std::string version() const;              // MSH-12.1
  std::string sending_application() const;  // MSH-3 raw, all components (a duplicate-key part)
  std::string sending_facility() const;     // MSH-4 raw, all components
  std::string charset() const;              // MSH-18, first repetition

 private:
  static Result<Segment> parse_segment(std::string_view line, const Delimiters& delimiters,
                                       std::size_t number);
  std::string msh_value(std::size_t field, std::size_t component = 1) const;

  Delimiters delimiters_;
  std::vector<Segment> segments_;
};

// The current local time as an HL7 TS to the second (YYYYMMDDHHMMSS), for MSH-7.
std::string hl7_timestamp_now();

// Undoes HL7 escape sequences: \F\ \S\ \T\ \R\ \E\ give the delimiters, \P\ the truncation
// character (only when MSH-2 carries one), \Xhh..\ the bytes hh.., \.br\ a line break "\n" and
// \.sp[n]\ n+1 of them (n defaults to 1, capped at 99); the caller converts "\n" when its target
// wants CR LF. Highlighting (\H\ \N\), other formatting commands (\.fi\ \.in+2\ ...), local
// escapes (\Z..\) and character-set switches (\Cxxyy\ \Mxxyy[zz]\) are dropped: they carry no
// text. An escape character that does not open a known, well-formed sequence is kept as a literal
// character and scanning goes on after it, so no text is lost.
std::string unescape(std::string_view text, const Delimiters& delimiters);

// Escapes the delimiters (and the truncation character, when there is one) and CR/LF (as \X0D\ and
// \X0A\, which would otherwise end the segment). unescape(escape(x)) == x for any bytes x.
std::string escape(std::string_view text, const Delimiters& delimiters);

}  // namespace pacs::hl7
