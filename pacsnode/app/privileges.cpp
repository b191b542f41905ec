#include "pacsnode/app/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace pacs {

Result<void> run_as(const std::string& user, const std::string& data_dir) {
  errno = 0;
  const passwd* entry = ::getpwnam(user.c_str());
  if (!entry) return fail(ErrorCode::InvalidArgument, "--run-as: no user '" + user + "'");
  const uid_t uid = entry->pw_uid;
  const gid_t gid = entry->pw_gid;
  if (::geteuid() != 0) {
    if (::geteuid() == uid) return {};
    return fail(ErrorCode::InvalidArgument, "--run-as " + user +
                                                ": only root can change user (running as uid " +
                                                std::to_string(::geteuid()) + ")");
  }
  // The data directory belongs to the user the node runs as.
  std::error_code ec;
  if (!std::filesystem::exists(data_dir, ec)) {
    std::filesystem::create_directories(data_dir, ec);
    if (ec || ::chown(data_dir.c_str(), uid, gid) != 0)
      return fail(ErrorCode::InvalidArgument,
                  "--run-as: cannot make " + data_dir + " for " + user + ": " +
                      (ec ? ec.message() : std::string(std::strerror(errno))));
  }
  if (::initgroups(user.c_str(), gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)
    return fail(ErrorCode::InvalidArgument,
                "--run-as " + user + ": " + std::string(std::strerror(errno)));
  // For good: a process that could get root back has not dropped it.
  if (::setuid(0) == 0)
    return fail(ErrorCode::InvalidArgument, "--run-as " + user + ": root could be regained");
  return {};
}

}  // namespace pacs
