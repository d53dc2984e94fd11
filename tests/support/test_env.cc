#include "tests/support/test_env.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>
#include <unistd.h>

#include "shared/common/error.h"

namespace fleetml::test {

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(poll);
  }
  return predicate();
}

TestDir::TestDir() {
  static std::atomic<int> counter{0};
  std::string name;
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name.append(info->test_suite_name()).append(".").append(info->name());
    std::replace(name.begin(), name.end(), '/', '_');  // parameterized test names
  } else {
    name = "fleetml";
  }
  name.append("-").append(std::to_string(::getpid()));
  name.append("-").append(std::to_string(counter++));
  path_ = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TestDir::~TestDir() {
  if (std::getenv("FLEETML_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

namespace {

std::filesystem::path env_dir(const char* variable) {
  const char* dir = std::getenv(variable);
  if (dir == nullptr || *dir == '\0') {
    throw Error(std::string(variable) + " is not set (run the test through ctest)");
  }
  return dir;
}

}  // namespace

// The source tree is known at build time, so test discovery (which runs the binary without
// ctest's environment) can use it too.
std::filesystem::path source_dir() {
  const char* dir = std::getenv("FLEETML_SOURCE_DIR");
  return (dir != nullptr && *dir != '\0') ? dir : FLEETML_DEFAULT_SOURCE_DIR;
}

std::filesystem::path zoo_dir() { return env_dir("FLEETML_ZOO_DIR"); }

std::filesystem::path bin_path(std::string_view name) {
  std::filesystem::path path = env_dir("FLEETML_BIN_DIR") / name;
  if (!std::filesystem::exists(path)) throw Error("no such executable " + path.string());
  return path;
}

}  // namespace fleetml::test
