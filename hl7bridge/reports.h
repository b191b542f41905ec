// ORU^R01 as a report: the order and study it answers (OBR-2/3/18, a Study Instance UID in an
// OBX as IHE RAD-28/RAD-128 carry it), its status (OBR-25), signer (OBR-32), time (OBR-7) and
// its text lines (OBX TX/FT/ST, in order) or a PDF document (OBX ED, Base64).
#pragma once

#include <tl/expected.hpp>

#include "hl7bridge/message.h"
#include "hl7bridge/orders.h"
#include "storage/model/orders.h"

namespace pacs::hl7 {

tl::expected<ReportRecord, MessageProblem> report_of(const Message& message);

}  // namespace pacs::hl7
