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

// $variable, else the value configured at build time: ctest and test discovery (which runs
// the binary without ctest's environment) see the same directories.
std::filesystem::path configured_dir(const char* variable, const char* configured) {
  const char* dir = std::getenv(variable);
  return (dir != nullptr && *dir != '\0') ? dir : configured;
}

}  // namespace

std::filesystem::path source_dir() {
  return configured_dir("FLEETML_SOURCE_DIR", FLEETML_DEFAULT_SOURCE_DIR);
}

std::filesystem::path zoo_dir() {
  return configured_dir("FLEETML_ZOO_DIR", FLEETML_DEFAULT_ZOO_DIR);
}

std::filesystem::path bin_path(std::string_view name) {
  std::filesystem::path path = configured_dir("FLEETML_BIN_DIR", FLEETML_DEFAULT_BIN_DIR) / name;
  if (!std::filesystem::exists(path)) throw Error("no such executable " + path.string());
  return path;
}

}  // namespace fleetml::test
