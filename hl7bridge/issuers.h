// The assigning authority of a patient identifier (PID-3.4, MRG-1.4) for senders that leave it
// empty: the site configures one per sending application, so two hospitals' RIS feeds keep their
// "12345"s apart.
#pragma once

#include <map>
#include <string>

#include "hl7bridge/message.h"

namespace pacs::hl7 {

using DefaultIssuers = std::map<std::string, std::string>;  // MSH-3.1 -> Issuer of Patient ID

// `issuer` when the message named one, else the default of its sending application ("" if none).
std::string issuer_or_default(const std::string& issuer, const Message& message,
                              const DefaultIssuers& defaults);

}  // namespace pacs::hl7
