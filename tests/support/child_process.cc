#include "tests/support/child_process.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/common/error.h"
#include "shared/common/file.h"

extern char** environ;

namespace fleetml::test {
namespace {

std::filesystem::path resolve(const std::filesystem::path& program) {
  if (program.string().find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::filesystem::path candidate = std::filesystem::path(dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw Error("program " + program.string() + " not found in PATH");
}

// The test's environment with `overrides` ("NAME=VALUE") applied.
std::vector<std::string> environment(const std::vector<std::string>& overrides) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    vars[entry.substr(0, entry.find('='))] = entry;
  }
  for (const std::string& entry : overrides) vars[entry.substr(0, entry.find('='))] = entry;
  std::vector<std::string> out;
  for (auto& [name, entry] : vars) out.push_back(std::move(entry));
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Child side between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(int log_fd, int error_fd, pid_t parent, const char* cwd,
                             const char* path, char** argv, char** envp) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the test died before prctl took effect
  if (log_fd >= 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
  }
  int fd = ::open("/dev/null", O_RDONLY);
  if (fd >= 0) ::dup2(fd, STDIN_FILENO);
  if (cwd != nullptr && ::chdir(cwd) != 0) {
    const int err = errno;
    [[maybe_unused]] auto n = ::write(error_fd, &err, sizeof err);
    ::_exit(127);
  }
  ::execve(path, argv, envp);
  const int err = errno;
  [[maybe_unused]] auto n = ::write(error_fd, &err, sizeof err);
  ::_exit(127);
}

}  // namespace

std::string ExitStatus::describe() const {
  if (exited) return "exit " + std::to_string(code);
  return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
}

ChildProcess::ChildProcess(const std::filesystem::path& program, std::vector<std::string> args)
    : ChildProcess(program, std::move(args), Options{}) {}

ChildProcess::ChildProcess(const std::filesystem::path& program, std::vector<std::string> args,
                           Options options)
    : options_(std::move(options)) {
  const std::filesystem::path path = resolve(program);
  std::vector<std::string> argv_strings = {program.string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings = environment(options_.env);
  std::vector<char*> argv = pointers(argv_strings);
  std::vector<char*> envp = pointers(env_strings);

  int log_fd = -1;
  if (!options_.log_path.empty()) {
    log_fd = ::open(options_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      throw Error("cannot open " + options_.log_path.string() + ": " + std::strerror(errno));
    }
  }
  // Reports an exec failure: the write end closes on a successful exec.
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
    if (log_fd >= 0) ::close(log_fd);
    throw Error(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const char* cwd = options_.cwd.empty() ? nullptr : options_.cwd.c_str();
  pid_ = ::fork();
  if (pid_ == 0)
    exec_child(log_fd, error_pipe[1], parent, cwd, path.c_str(), argv.data(), envp.data());
  const int fork_errno = errno;
  ::close(error_pipe[1]);
  if (log_fd >= 0) ::close(log_fd);
  if (pid_ < 0) {
    ::close(error_pipe[0]);
    throw Error("fork for " + path.string() + ": " + std::strerror(fork_errno));
  }
  ::setpgid(pid_, pid_);  // also done by the child; whichever runs first wins the race
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(error_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(error_pipe[0]);
  if (n == sizeof child_errno) {
    reap(/*block=*/true);
    throw Error("cannot run " + path.string() + ": " + std::strerror(child_errno));
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) stop();
}

bool ChildProcess::reap(bool block) {
  if (status_) return true;
  int raw = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &raw, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  ExitStatus s;
  s.exited = WIFEXITED(raw);
  s.code = s.exited ? WEXITSTATUS(raw) : 0;
  s.signal = WIFSIGNALED(raw) ? WTERMSIG(raw) : 0;
  status_ = s;
  return true;
}

bool ChildProcess::running() { return !reap(/*block=*/false); }

void ChildProcess::signal(int sig) {
  if (!running()) return;
  if (::kill(-pid_, sig) != 0) ::kill(pid_, sig);  // group not formed yet: the process itself
}

void ChildProcess::kill() { signal(SIGKILL); }

std::optional<ExitStatus> ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto poll = std::chrono::milliseconds(1);
  while (!reap(/*block=*/false)) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(poll);
    poll = std::min(poll * 2, std::chrono::milliseconds(20));
  }
  return status_;
}

ExitStatus ChildProcess::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (auto s = wait(grace)) {
    ::kill(-pid_, SIGKILL);  // leftovers of its process group, if any
    return *s;
  }
  signal(SIGKILL);
  reap(/*block=*/true);
  return *status_;
}

std::string ChildProcess::log() const {
  return options_.log_path.empty() ? "" : file::read(options_.log_path);
}

}  // namespace fleetml::test
