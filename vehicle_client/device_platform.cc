#include "vehicle_client/device_platform.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/characterization/characterization.h"
#include "shared/common/error.h"
#include "shared/common/log.h"
#include "shared/model/model_profile.h"
#include "shared/runtime/device_info.h"
#include "simulation/device/simulated_device.h"

extern char** environ;

namespace fleetml::vehicle {
namespace {

namespace fs = std::filesystem;
constexpr auto kSmokeTimeout = std::chrono::minutes(5);
constexpr int kWarmup = 3;
constexpr int kRepeats = 20;

model::Shape input_of(const v1::ManifestBody& manifest) {
  return model::Shape(manifest.input_shape().begin(), manifest.input_shape().end());
}

// The last non-empty line of `text` (the child's one-line error), bounded.
std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const std::size_t nl = text.rfind('\n');
  std::string line = nl == std::string::npos ? text : text.substr(nl + 1);
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

// Runs argv with stderr captured; returns the exit status (or -signal) and the output.
std::pair<int, std::string> run_captured(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error("smoke test: cannot create a pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw Error("smoke test: cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + kSmokeTimeout;
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000))) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;  // EOF: the child exited (or closed its output)
    // Keep the tail only: the interesting line is the last one.
    output.append(buf, static_cast<std::size_t>(n));
    if (output.size() > 16384) output.erase(0, output.size() - 8192);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return {-SIGKILL, "did not finish within 5 minutes"};
  if (WIFEXITED(status)) return {WEXITSTATUS(status), output};
  return {-WTERMSIG(status), output};
}

}  // namespace

struct DevicePlatform::Profile {
  explicit Profile(sim::DeviceProfile p) : device(std::move(p)) {}
  sim::SimulatedDevice device;
  sim::Rng rng{std::random_device{}()};
};

DevicePlatform::DevicePlatform(runtime::RuntimeConfig config, std::optional<fs::path> profile_path)
    : config_(config) {
  if (profile_path) {
    profile_ = std::make_unique<Profile>(sim::load_device_profile(*profile_path));
  }
}

DevicePlatform::~DevicePlatform() = default;

v1::Device DevicePlatform::describe_device() {
  if (profile_) return profile_->device.device();
  v1::Device device = runtime::detect_device();
  device.set_runtime(runtime::runtime_name());
  device.set_threads(static_cast<std::uint32_t>(config_.threads));
  device.set_optimized(config_.optimized);
  return device;
}

v1::Calibration DevicePlatform::calibrate() {
  if (profile_) {
    v1::Calibration c = profile_->device.calibration(profile_->rng);
    c.set_measured_unix_ms(SystemClock::instance().now_unix_ms());
    return c;
  }
  log::info("vehicle", "calibrating (LibTorch micro-benchmarks)");
  return runtime::calibrate(config_);
}

delivery::SmokeResult DevicePlatform::smoke_test(const fs::path& model_file,
                                                 const v1::ManifestBody& manifest) {
  std::vector<std::string> argv = {"/proc/self/exe", "smoke",
                                   "--model",        model_file.string(),
                                   "--input",        model::format_shape(input_of(manifest)),
                                   "--threads",      std::to_string(config_.threads),
                                   "--log-level",    "error"};
  if (!config_.optimized) argv.push_back("--no-optimize");
  const auto [code, output] = run_captured(argv);
  if (code == 0) return {true, ""};
  const std::string line = last_line(output);
  return {false, line.empty() ? "smoke test exited with " + std::to_string(code) : line};
}

v1::Measurement DevicePlatform::benchmark(const fs::path& model_file,
                                          const v1::ManifestBody& manifest,
                                          const v1::Application& app) {
  const model::Shape input = input_of(manifest);
  const int batch = static_cast<int>(std::max<std::uint32_t>(app.batch(), 1));
  v1::Measurement m;
  m.set_batch(static_cast<std::uint32_t>(batch));
  m.set_repeats(kRepeats);
  if (profile_) {
    // What the profiled device would measure, from its truth model and the model's structure.
    const model::ModelProfile structure = characterization::characterize(model_file, input);
    return profile_->device.measure(structure, batch, kRepeats, profile_->rng);
  }
  const runtime::BenchmarkResult r =
      runtime::benchmark(model_file, input, config_, batch, kWarmup, kRepeats);
  m.set_p50_ms(r.p50_ms);
  m.set_p95_ms(r.p95_ms);
  m.set_mean_ms(r.mean_ms);
  m.set_peak_rss_mb(r.peak_rss_mb);
  m.set_energy_j(r.energy_j);
  m.set_energy_source(r.energy_source);
  m.set_threads(static_cast<std::uint32_t>(r.threads));
  m.set_optimized(r.optimized);
  return m;
}

std::unique_ptr<ArtifactSink> DevicePlatform::open_sink(const fs::path& dir) {
  return file_artifact_sink(dir);
}

}  // namespace fleetml::vehicle
