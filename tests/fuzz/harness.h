// What the fuzz targets share.
#pragma once

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/oflog/oflog.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "storage/model/log.h"

namespace pacs::fuzz {

// Fuzz targets feed garbage on purpose: the warnings it causes (ours and DCMTK's) would cost more
// time than the code under test and bury libFuzzer's own output.
inline void quiet_logs() {
  static const bool done = [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    pacs::log::set_level(pacs::log::Level::Off);
    return true;
  }();
  (void)done;
}

// The input as a file, as the node reads objects: DCMTK checks a value's length against what a
// file holds before allocating it, while from a memory buffer it allocates whatever length the
// bytes claim. One scratch file per process and target, in memory where /dev/shm exists.
inline const std::filesystem::path& as_scratch_file(const char* target, const std::uint8_t* data,
                                                    std::size_t size) {
  static const std::filesystem::path file = [target] {
    const std::filesystem::path dir =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    return dir / ("pacsnode-fuzz-" + std::string(target) + "-" + std::to_string(getpid()));
  }();
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return file;
}

}  // namespace pacs::fuzz
