// fleet-vehicle and the BLAS build it runs on (runtime.h): it names the build in its runtime,
// and on OpenBLAS's pthreads build it runs with workers that sleep (ensure_sleeping_blas_workers):
// the variable OpenBLAS reads when it loads must be in the environment of the real binary,
// whatever the caller's environment was, and a value the user chose is kept. Each build is
// loaded from its own directory (LD_LIBRARY_PATH), whatever the system's alternative selects.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/runtime/runtime.h"
#include "tests/support/child_process.h"
#include "tests/support/test_env.h"

namespace fleetml {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// `fleet-vehicle benchmark --json` on LeNet-5, run with `env` added; its JSON.
nlohmann::json benchmark(const test::TestDir& dir, std::vector<std::string> env) {
  test::ChildProcess child(
      test::bin_path("fleet-vehicle"),
      {"benchmark", "--model", (test::zoo_dir() / "lenet5.pt").string(), "--input", "1x1x32x32",
       "--threads", "2", "--warmup", "1", "--repeats", "3", "--json"},
      {.env = std::move(env), .log_path = dir / "vehicle.log", .cwd = {}});
  const auto status = child.wait(120s);
  EXPECT_TRUE(status && status->success()) << child.log();
  const std::string log = child.log();
  const auto start = log.find("\n{");
  if (start == std::string::npos) {
    ADD_FAILURE() << "no JSON in: " << log;
    return {};
  }
  return nlohmann::json::parse(log.substr(start + 1));
}

// The directory of one of Debian's OpenBLAS builds ("openmp", "pthread").
std::filesystem::path openblas_dir(const char* build) {
  return std::filesystem::path("/usr/lib") / FLEETML_LIBRARY_ARCHITECTURE /
         (std::string("openblas-") + build);
}

// "LD_LIBRARY_PATH=<openblas_dir(build)>", or "" when that build is not installed.
std::string load_build(const char* build) {
  const auto dir = openblas_dir(build);
  return std::filesystem::exists(dir / "libopenblas.so.0") ? "LD_LIBRARY_PATH=" + dir.string() : "";
}

TEST(VehicleRuntimeTest, PthreadsBuildRunsWithSleepingWorkersUnlessTheUserChose) {
  const std::string build = load_build("pthread");
  if (build.empty())
    GTEST_SKIP() << "libopenblas0-pthread is not installed: no " << openblas_dir("pthread");
  ::unsetenv(runtime::kBlasThreadTimeoutVariable);  // the children inherit the rest
  {
    test::TestDir dir;
    const auto j = benchmark(dir, {build});
    EXPECT_EQ(j.value("blas_threading", "?"), "pthreads");
    EXPECT_THAT(j.value("runtime", "?"), HasSubstr("+openblas-pthreads"));
    EXPECT_EQ(j.value("openblas_thread_timeout", "?"), runtime::kBlasThreadTimeout);
  }
  {
    test::TestDir dir;
    EXPECT_EQ(benchmark(dir, {build, std::string(runtime::kBlasThreadTimeoutVariable) + "=25"})
                  .value("openblas_thread_timeout", "?"),
              "25");
  }
}

TEST(VehicleRuntimeTest, OpenMPBuildNeedsNoRestart) {
  const std::string build = load_build("openmp");
  if (build.empty())
    GTEST_SKIP() << "libopenblas0-openmp is not installed: no " << openblas_dir("openmp");
  ::unsetenv(runtime::kBlasThreadTimeoutVariable);
  test::TestDir dir;
  const auto j = benchmark(dir, {build});
  EXPECT_EQ(j.value("blas_threading", "?"), "openmp");
  EXPECT_THAT(j.value("runtime", "?"), HasSubstr("+openblas-openmp"));
  EXPECT_EQ(j.value("openblas_thread_timeout", "?"), "");
}

}  // namespace
}  // namespace fleetml
