#include "shared/common/log.h"

#include <gtest/gtest.h>

#include "shared/common/error.h"

namespace fleetml::log {
namespace {

TEST(Log, FormatsLogfmtWithQuotingAndTypedFields) {
  const std::string line = format_line(Level::kWarn, "coordinator", "rejected input",
                                       {{"vehicle", "rpi4-001"},
                                        {"reason", "bad \"seq\" value"},
                                        {"count", 3},
                                        {"ratio", 0.25},
                                        {"ok", false}});
  EXPECT_NE(line.find(" level=warn component=coordinator msg=\"rejected input\""),
            std::string::npos);
  EXPECT_NE(line.find(" vehicle=rpi4-001"), std::string::npos);
  EXPECT_NE(line.find(" reason=\"bad \\\"seq\\\" value\""), std::string::npos);
  EXPECT_NE(line.find(" count=3 ratio=0.25 ok=false"), std::string::npos);
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, EscapesNewlinesSoOneEventIsOneLine) {
  const std::string line = format_line(Level::kInfo, "x", "a\nb", {{"k", "c\rd"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("msg=\"a\\nb\""), std::string::npos);
}

TEST(Log, ParsesLevels) {
  EXPECT_EQ(parse_level("debug"), Level::kDebug);
  EXPECT_EQ(parse_level("error"), Level::kError);
  EXPECT_THROW(parse_level("verbose"), Error);
}

}  // namespace
}  // namespace fleetml::log
