// Child processes for tests: run a command to completion, or keep a server running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace pacs::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string output;  // stdout and stderr together
};

// Runs argv with extra environment entries ("NAME=value"), returning when it exits or after the
// timeout (then it is killed).
CommandResult run(const std::vector<std::string>& argv,
                  std::chrono::seconds timeout = std::chrono::seconds(120),
                  const std::vector<std::string>& extra_env = {});

// A process in the background, with its output going to a file. Killed (SIGKILL) if still running
// when destroyed.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& log_path,
             const std::vector<std::string>& extra_env = {});
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background();

  bool running();
  // SIGTERM, then waits up to the timeout; returns the exit code (-1 if it had to be killed).
  int stop(std::chrono::seconds timeout = std::chrono::seconds(20));
  void kill_hard();  // SIGKILL and reap
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

// A loopback port that was free a moment ago.
int free_port();
// True once something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(int port);

}  // namespace pacs::testing
