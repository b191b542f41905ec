// Ingest failures as storage statuses (PS3.4 B.2.3, PS3.7 Annex C): the C-STORE response status
// and, the same values, STOW-RS Failure Reason (PS3.18 Annex I). The one place they map.
#pragma once

#include <cstdint>

#include "storage/model/result.h"

namespace pacs {

std::uint16_t store_status_for(const Error& error);

}  // namespace pacs
