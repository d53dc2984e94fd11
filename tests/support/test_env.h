#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string_view>

namespace fleetml::test {

// Polls `predicate` every `poll` until it returns true (returns true) or `timeout` passes
// (returns false, after one last check). Use generous timeouts: tests assert behaviour, not
// speed.
bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(10));

// A fresh directory under testing::TempDir(), named after the running test, removed with
// everything in it on destruction (kept when FLEETML_KEEP_TEST_DIRS is set, for debugging).
class TestDir {
 public:
  TestDir();
  ~TestDir();
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A built fleetml executable: <bin dir>/<name>. Throws fleetml::Error when it is missing.
std::filesystem::path bin_path(std::string_view name);

// Directories: the project's source tree, the exported model zoo and the built executables,
// as configured by CMake; the environment variables FLEETML_SOURCE_DIR, FLEETML_ZOO_DIR and
// FLEETML_BIN_DIR override them.
std::filesystem::path source_dir();
std::filesystem::path zoo_dir();

}  // namespace fleetml::test
