#include "shared/runtime/torch_error.h"

#include <gtest/gtest.h>

namespace fleetml::runtime {
namespace {

TEST(OneLineErrorTest, KeepsTheFinalLineOfATorchScriptTraceback) {
  EXPECT_EQ(one_line_error("The following operation failed in the TorchScript interpreter.\n"
                           "Traceback of TorchScript (most recent call last):\n"
                           "  File \"code/__torch__.py\", line 8, in forward\n"
                           "    raise RuntimeError(\"boom\")\n"
                           "RuntimeError: boom\n"),
            "RuntimeError: boom");
}

TEST(OneLineErrorTest, KeepsTheFirstLineOfOtherMessages) {
  EXPECT_EQ(one_line_error("  open file failed because of errno 2 on fopen\nmore detail\n"),
            "open file failed because of errno 2 on fopen");
  EXPECT_EQ(one_line_error("single"), "single");
  EXPECT_EQ(one_line_error("\n \n"), "unknown error");
}

}  // namespace
}  // namespace fleetml::runtime
