#include "shared/crypto/hex.h"

#include <gtest/gtest.h>

namespace fleetml::crypto {
namespace {

TEST(HexTest, EncodesLowerCaseAndRoundTrips) {
  const std::string bytes("\x00\x01\xab\xff", 4);
  EXPECT_EQ(to_hex(bytes), "0001abff");
  EXPECT_EQ(from_hex("0001abff"), bytes);
  EXPECT_EQ(from_hex("0001ABFF"), bytes);
  EXPECT_EQ(to_hex(""), "");
  EXPECT_EQ(from_hex(""), std::string());
}

TEST(HexTest, RejectsOddLengthAndNonDigits) {
  EXPECT_FALSE(from_hex("abc").has_value());
  EXPECT_FALSE(from_hex("zz").has_value());
  EXPECT_FALSE(from_hex("0g").has_value());
  EXPECT_FALSE(from_hex(std::string("0\0", 2)).has_value());
}

TEST(HexTest, IsLowerHexChecksLengthAndCase) {
  EXPECT_TRUE(is_lower_hex("00ff", 2));
  EXPECT_FALSE(is_lower_hex("00FF", 2));
  EXPECT_FALSE(is_lower_hex("00ff", 3));
  EXPECT_FALSE(is_lower_hex("../x", 2));
}

}  // namespace
}  // namespace fleetml::crypto
