#include "dicomweb/metadata_cache.h"

#include <dcmtk/config/osconfig.h>  // must come first for DCMTK

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "dicomweb/dicom_json.h"
#include "pacsnode/services/coercion.h"
#include "storage/model/log.h"

namespace pacs::web {
namespace {

// The cache holds this in place of the instance URL, which depends on how the client reached us.
constexpr std::string_view kUrlMarker = "pacsnode:instance";
constexpr std::string_view kUriKey = "\"BulkDataURI\":\"";
// Values over this stay in the file: they become BulkDataURIs, not JSON.
constexpr Uint32 kMaxLoadedValue = 4096;

// The cached JSON, if a whole copy is there. Caches are written without a sync: after a power
// cut one may be empty or cut short, and an object's JSON always starts with '{' and ends with '}'.
std::optional<std::string> read_cache(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<std::string> text;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size >= 2) {
    std::string buffer(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t done = 0;
    while (done < buffer.size()) {
      const ssize_t n = ::read(fd, buffer.data() + done, buffer.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    if (done == buffer.size() && buffer.front() == '{' && buffer.back() == '}')
      text = std::move(buffer);
  }
  ::close(fd);
  return text;
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Written to a temp name and renamed, so a concurrent reader sees the old state or a whole copy.
void write_cache(const std::filesystem::path& path, const std::string& text) {
  static std::atomic<std::uint64_t> counter{0};
  const std::filesystem::path temp =
      path.string() + "." + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  }
  if (fd < 0) {
    PACS_LOG(Debug) << "metadata cache " << path.string()
                    << " not written: " << std::strerror(errno);
    return;
  }
  const bool written = write_all(fd, text);
  ::close(fd);
  if (!written || ::rename(temp.c_str(), path.c_str()) != 0) ::unlink(temp.c_str());
}

Result<std::string> build_metadata(const RetrieveItem& item) {
  DcmFileFormat ff;
  if (ff.loadFile(item.file.c_str(), EXS_Unknown, EGL_noChange, kMaxLoadedValue).bad())
    return fail(ErrorCode::StorageFailure,
                "stored file of " + item.sop_instance_uid + " unreadable");
  DcmDataset& dataset = *ff.getDataset();
  if (item.patient_update) coerce_patient(dataset, *item.patient_update);
  dataset.convertToUTF8();
  return to_dicom_json(dataset, std::string(kUrlMarker));
}

// The cached form names bulk data under the marker; the answer names it under the real URL. Only
// a BulkDataURI key can be followed by the marker: a quote inside a value is escaped in JSON.
}  // namespace

std::string with_instance_url(const std::string& cached, const std::string& instance_url) {
  const std::string pattern = std::string(kUriKey) + std::string(kUrlMarker);
  std::string out;
  out.reserve(cached.size() + 512);
  std::size_t from = 0;
  // Bounded by the text: every pass moves past one occurrence.
  for (std::size_t at; (at = cached.find(pattern, from)) != std::string::npos;
       from = at + pattern.size()) {
    out.append(cached, from, at - from);
    out.append(kUriKey);
    out.append(instance_url);
  }
  out.append(cached, from, std::string::npos);
  return out;
}

Result<CachedMetadata> load_metadata(const RetrieveItem& item) {
  const bool cacheable = !item.metadata_cache.empty() && !item.patient_update;
  if (cacheable)
    if (auto cached = read_cache(item.metadata_cache))
      return CachedMetadata{std::move(*cached), false};
  auto built = build_metadata(item);
  if (!built) return tl::unexpected(built.error());
  return CachedMetadata{std::move(*built), cacheable};
}

void cache_metadata(const RetrieveItem& item, const std::string& json) {
  if (!item.metadata_cache.empty()) write_cache(item.metadata_cache, json);
}

}  // namespace pacs::web
