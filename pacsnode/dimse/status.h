// Ingest failures as DIMSE C-STORE statuses (PS3.4 B.2.3, PS3.7 Annex C): the one place they map.
#pragma once

#include <cstdint>

#include "storage/model/result.h"

namespace pacs::dimse {

std::uint16_t store_status_for(const Error& error);

}  // namespace pacs::dimse
