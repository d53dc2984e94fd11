#include "shared/common/file.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "shared/common/error.h"

namespace fleetml::file {
namespace {

namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("fleetml_file_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FileTest, WriteAtomicReplacesContentAndLeavesNoTemporary) {
  const fs::path p = dir_ / "state.json";
  write_atomic(p, "first");
  write_atomic(p, "second, longer");
  EXPECT_EQ(read(p), "second, longer");
  EXPECT_FALSE(fs::exists(dir_ / "state.json.tmp"));
}

TEST_F(FileTest, WriteAtomicAppliesMode) {
  const fs::path p = dir_ / "key.pem";
  write_atomic(p, "secret", fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(p).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(FileTest, ErrorsNameThePath) {
  try {
    read(dir_ / "absent");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent"), std::string::npos);
  }
  EXPECT_THROW(write_atomic(dir_ / "no" / "such" / "dir", "x"), Error);
}

}  // namespace
}  // namespace fleetml::file
