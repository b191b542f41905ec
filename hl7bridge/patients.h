// ADT A01/A04/A08 (new demographics) and A40 (merge) as patient changes (IHE RAD-1/RAD-12).
#pragma once

#include <tl/expected.hpp>

#include "hl7bridge/message.h"
#include "hl7bridge/orders.h"
#include "storage/model/orders.h"

namespace pacs::hl7 {

// PID-3 names the patient (the surviving one in A40, whose MRG-1 names the prior one). An empty
// PID-5/7/8 leaves that value as it is; "" clears it. An identifier without its assigning
// authority takes the sending application's default issuer.
tl::expected<PatientChange, MessageProblem> patient_change(const Message& message,
                                                           const DefaultIssuers& default_issuers);

}  // namespace pacs::hl7
