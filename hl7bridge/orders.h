// ORM^O01 (v2.3.1) and OMI^O23 (v2.5.1) as worklist changes: the order-to-worklist mapping of IHE
// RAD-4 / RAD-13 (order control to action, HL7 fields to Modality Worklist attributes).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "hl7bridge/ack.h"
#include "hl7bridge/issuers.h"
#include "hl7bridge/message.h"
#include "storage/model/orders.h"

namespace pacs::hl7 {

struct OrderOptions {
  // ORM^O01 carries no Scheduled Station AE Title: the site's modality -> AE table supplies it.
  std::map<std::string, std::string> station_aet_by_modality;
  DefaultIssuers default_issuers;  // for PID-3 without an assigning authority (also ADT's)
};

// Why a message cannot be applied, for its acknowledgement.
struct MessageProblem {
  AckCode code = AckCode::AE;
  AckError error;
};

// One change per ORC group of the message, in order. SC with an order status that calls for no
// worklist change gives none. An order without a Study Instance UID (ZDS-1, IPC-3) gets a
// generated one, marked so (OrderRecord::study_uid_generated): the index keeps the UID of an order
// it has already, inside the transaction that applies the change.
tl::expected<std::vector<OrderChange>, MessageProblem> order_changes(const Message& message,
                                                                     const OrderOptions& options);

}  // namespace pacs::hl7
