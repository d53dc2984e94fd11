// fleet-vehicle runs its models with OpenBLAS workers that sleep (runtime.h,
// ensure_sleeping_blas_workers): the variable OpenBLAS reads when it loads must be in the
// environment of the real binary, whatever the caller's environment was, and a value the user
// chose is kept.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/runtime/runtime.h"
#include "tests/support/child_process.h"
#include "tests/support/test_env.h"

namespace fleetml {
namespace {

using namespace std::chrono_literals;

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

TEST(VehicleRuntimeTest, BenchmarksRunWithSleepingBlasWorkersUnlessTheUserChose) {
  ::unsetenv(runtime::kBlasThreadTimeoutVariable);  // the children inherit the rest
  {
    test::TestDir dir;
    EXPECT_EQ(benchmark(dir, {}).value("openblas_thread_timeout", "?"),
              runtime::kBlasThreadTimeout);
  }
  {
    test::TestDir dir;
    EXPECT_EQ(benchmark(dir, {std::string(runtime::kBlasThreadTimeoutVariable) + "=20"})
                  .value("openblas_thread_timeout", "?"),
              "20");
  }
}

}  // namespace
}  // namespace fleetml
