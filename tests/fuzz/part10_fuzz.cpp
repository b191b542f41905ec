// Part 10 ingest of arbitrary bytes, through the step every C-STORE and STOW-RS object takes
// first (parse_received): no crash; an object it accepts has the UIDs the index needs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "pacsnode/services/ingest.h"
#include "tests/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pacs::fuzz::quiet_logs();
  const auto& file = pacs::fuzz::as_scratch_file("part10", data, size);
  auto parsed = pacs::parse_received(file, std::nullopt, {});
  if (parsed && (parsed->entry.instance.sop_instance_uid.str().empty() ||
                 parsed->entry.study.study_uid.str().empty()))
    std::abort();
  return 0;
}
