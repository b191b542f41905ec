#include "dicomweb/dicom_json.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcjson.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string_view>

#include "storage/model/log.h"
#include "storage/model/utf8.h"

namespace pacs::web {
namespace {

// Binary values up to this size stay inline: a BulkDataURI costs the client a request.
constexpr Uint32 kInlineBinaryLimit = 4096;

bool binary_vr(DcmEVR vr) {
  switch (vr) {
    case EVR_OB:
    case EVR_OD:
    case EVR_OF:
    case EVR_OL:
    case EVR_OV:
    case EVR_OW:
    case EVR_UN:
    case EVR_ox:
    case EVR_px:
    case EVR_pixelSQ:
      return true;
    default:
      return false;
  }
}

// The attribute's key in DICOM JSON: its tag as eight upper-case hex digits.
std::string tag_key(const DcmTagKey& tag) {
  char key[16];
  std::snprintf(key, sizeof key, "%04X%04X", tag.getGroup(), tag.getElement());
  return key;
}

class BulkDataFormat : public DcmJsonFormatCompact {
 public:
  BulkDataFormat(DcmItem& dataset, std::string base)
      : DcmJsonFormatCompact(OFFalse), dataset_(dataset), base_(std::move(base)) {}

  OFBool asBulkDataURI(const DcmTagKey& tag, OFString& uri) override {
    if (base_.empty()) return OFFalse;
    DcmElement* element = nullptr;
    // Top level only: a nested element with the same tag is not what the URI would name.
    if (dataset_.findAndGetElement(tag, element, OFFalse).bad() || element == nullptr)
      return OFFalse;
    // Pixel Data always goes by reference (its class reports an internal VR of its own).
    if (tag != DCM_PixelData &&
        (!binary_vr(element->ident()) || element->getLengthField() <= kInlineBinaryLimit))
      return OFFalse;
    uri = (base_ + "/bulkdata/" + tag_key(tag)).c_str();
    return OFTrue;
  }

 private:
  DcmItem& dataset_;
  std::string base_;
};

// A decimal value as PS3.18 F.2.3.1 wants it: a JSON number, the shortest text that reads back as
// the same value in the value's own precision (an FL 0.1 stays 0.1); NaN and the infinities,
// which JSON numbers cannot express, as the strings "NaN", "Infinity" and "-Infinity".
template <typename Number>
void write_number(std::ostream& out, Number value) {
  if (std::isnan(value)) {
    out << "\"NaN\"";
  } else if (std::isinf(value)) {
    out << (value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    char text[32];
    const auto end = std::to_chars(text, text + sizeof text, value).ptr;
    out << std::string_view(text, static_cast<std::size_t>(end - text));
  }
}

// True when text follows the JSON number grammar (RFC 8259 section 6).
bool is_json_number(std::string_view text) {
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - from;
  };
  if (i < text.size() && text[i] == '-') ++i;
  const std::size_t int_start = i;
  const std::size_t int_digits = digits();
  if (int_digits == 0 || (int_digits > 1 && text[int_start] == '0')) return false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == text.size();
}

// A DS value: as written when it is already a JSON number (keeps the sender's digits), else the
// number it denotes ("5.", "+.5" and "01" are valid DS but not JSON), else the text as a string.
void write_decimal_string(std::ostream& out, std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (is_json_number(text)) {
    out << text;
    return;
  }
  const std::string copy(text);
  // Only the characters of a DS (PS3.5 6.2): strtod would also take "nan", "inf" and hex.
  const bool ds_characters =
      !copy.empty() && copy.find_first_not_of("0123456789+-.eE") == std::string::npos;
  char* end = nullptr;
  const double value = ds_characters ? std::strtod(copy.c_str(), &end) : 0.0;
  if (ds_characters && end == copy.c_str() + copy.size()) {
    write_number(out, value);
  } else {
    DcmJsonFormat::printValueString(out, OFString(copy.data(), copy.size()));
  }
}

void write_item(std::ostream& out, DcmItem& item, BulkDataFormat& format);

// The numeric VRs whose values DCMTK 3.6.7 can write as invalid JSON (NaN and infinities of FL
// and FD as bare words, DS values such as "5." as they are: DCMTK bug 1079), written here instead.
bool written_here(DcmEVR vr) {
  return vr == EVR_DS || vr == EVR_FL || vr == EVR_FD;
}

void write_numbers(std::ostream& out, DcmElement& element) {
  out << "\"Value\":[";
  for (unsigned long i = 0; i < element.getVM(); ++i) {
    if (i > 0) out << ',';
    if (element.ident() == EVR_DS) {
      OFString text;
      element.getOFString(text, i);
      write_decimal_string(out, std::string_view(text.c_str(), text.size()));
    } else if (element.ident() == EVR_FL) {
      Float32 value = 0;
      element.getFloat32(value, i);
      write_number(out, value);
    } else {
      Float64 value = 0;
      element.getFloat64(value, i);
      write_number(out, value);
    }
  }
  out << ']';
}

void write_element(std::ostream& out, DcmElement& element, BulkDataFormat& format) {
  const DcmEVR vr = element.ident();
  auto* sequence = vr == EVR_SQ ? dynamic_cast<DcmSequenceOfItems*>(&element) : nullptr;
  if (sequence == nullptr && !written_here(vr)) {
    // Written aside first, so a failure leaves nothing half-written; one buffer per thread, as
    // this runs for every attribute of every answer.
    static thread_local std::ostringstream one;
    one.str({});
    one.clear();
    if (element.writeJson(one, format).good()) {
      out << one.view();
      return;
    }
    // DCMTK stops writing at a value it cannot put in JSON: the attribute goes out without one
    // rather than leaving the whole answer cut off.
    PACS_LOG(Warn) << "DICOM JSON: attribute " << tag_key(element.getTag())
                   << " has a value JSON cannot carry; sent empty";
  }
  out << '"' << tag_key(element.getTag()) << "\":{\"vr\":\"" << DcmVR(vr).getValidVRName() << '"';
  if (sequence != nullptr && sequence->card() > 0) {
    out << ",\"Value\":[";
    for (unsigned long i = 0; i < sequence->card(); ++i) {
      if (i > 0) out << ',';
      write_item(out, *sequence->getItem(i), format);
    }
    out << ']';
  } else if (sequence == nullptr && written_here(vr) && element.getVM() > 0) {
    out << ',';
    write_numbers(out, element);
  }
  out << '}';
}

// Element by element, so that the numbers above and a value DCMTK fails on are handled at any
// depth of nesting.
void write_item(std::ostream& out, DcmItem& item, BulkDataFormat& format) {
  out << '{';
  for (unsigned long i = 0; i < item.card(); ++i) {
    if (i > 0) out << ',';
    write_element(out, *item.getElement(i), format);
  }
  out << '}';
}

}  // namespace

std::string to_dicom_json(DcmItem& dataset, const std::string& bulk_base) {
  BulkDataFormat format(dataset, bulk_base);
  std::ostringstream out;
  write_item(out, dataset, format);
  std::string json = std::move(out).str();
  // DCMTK writes text bytes as they are: an object whose text is not UTF-8 (no Specific Character
  // Set but Latin-1 bytes, or a value a conversion could not map) would make the answer invalid
  // JSON for strict parsers. Bytes outside strings are ASCII, so only string content changes.
  if (first_invalid_utf8(json) != std::string_view::npos) {
    PACS_LOG(Warn) << "DICOM JSON: text that is not UTF-8 sent with U+FFFD in its place";
    return with_invalid_utf8_replaced(json);
  }
  return json;
}

}  // namespace pacs::web
