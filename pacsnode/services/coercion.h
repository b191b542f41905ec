// Retrieve coercion of patient attributes: an object stored before an ADT update or merge goes
// out with the patient as the index knows it now, while its stored file keeps the bytes that
// arrived (PS3.4 C.4.2.1.4 lets a retrieve coerce; PS3.3 C.12.1 keeps what was replaced).
#pragma once

#include <optional>

#include "storage/find.h"
#include "storage/model/orders.h"

class DcmItem;

namespace pacs {

// The index's patient values when they differ from the object's own, compared in the index row's
// attribute sets (no file is opened) for patients an ADT message changed; nullopt when the object
// is up to date.
std::optional<PatientValues> patient_update_for(const FindRow& row);

// Puts the values into the object, and the values they replace into an item of Original
// Attributes Sequence (0400,0561) with the reason (a Reason for the Attribute Modification:
// CORRECT for an update the RIS sent, COERCE for a value the node supplies on receipt).
void coerce_patient(DcmItem& dataset, const PatientValues& values, const char* reason = "CORRECT");

}  // namespace pacs
