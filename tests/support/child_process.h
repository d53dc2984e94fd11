#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace fleetml::test {

// How a child process ended.
struct ExitStatus {
  bool exited = false;  // by exit(): `code` is valid
  int code = 0;
  int signal = 0;  // killed by this signal when !exited

  bool success() const { return exited && code == 0; }
  // "exit 0", "exit 3", "killed by signal 9 (Killed)".
  std::string describe() const;
};

// A program run for a test (a fleetml binary, mosquitto, mosquitto_sub ...), in its own
// process group so signals reach anything it starts. It also receives SIGKILL if the test
// process dies (PR_SET_PDEATHSIG; note: tied to the thread that started it, so start children
// from the test's main thread or a thread that outlives them).
class ChildProcess {
 public:
  struct Options {
    // Extra environment, "NAME=VALUE", added to (or overriding) the test's environment.
    std::vector<std::string> env;
    // Where stdout and stderr go (appended); empty: inherited from the test.
    std::filesystem::path log_path;
    // Working directory; empty: the test's.
    std::filesystem::path cwd;
  };

  // Starts `program` (a path, or a name looked up in PATH) with `args` (argv[1..]). Throws
  // fleetml::Error when the program is not found or cannot be executed.
  ChildProcess(const std::filesystem::path& program, std::vector<std::string> args,
               Options options);
  ChildProcess(const std::filesystem::path& program, std::vector<std::string> args);
  // Stops the process if it still runs: SIGTERM, up to 5 s grace, then SIGKILL.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();

  // Sends `sig` to the process group (no-op once it ended).
  void signal(int sig);
  // kill -9.
  void kill();

  // Waits for the end up to `timeout`; nullopt if it still runs.
  std::optional<ExitStatus> wait(std::chrono::milliseconds timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL; returns how it ended.
  ExitStatus stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  const std::filesystem::path& log_path() const { return options_.log_path; }
  // The log so far ("" when output is inherited or nothing was written).
  std::string log() const;

 private:
  bool reap(bool block);

  Options options_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

}  // namespace fleetml::test
