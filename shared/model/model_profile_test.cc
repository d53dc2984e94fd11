#include "shared/model/model_profile.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/common/error.h"

namespace fleetml::model {
namespace {

TEST(Shape, ParsesAndFormats) {
  EXPECT_EQ(parse_shape("1x3x224x224"), (Shape{1, 3, 224, 224}));
  EXPECT_EQ(parse_shape("1,1,32,32"), (Shape{1, 1, 32, 32}));
  EXPECT_EQ(format_shape({1, 3, 299, 299}), "1x3x299x299");
  EXPECT_EQ(element_count({1, 3, 224, 224}), 150528);
}

TEST(Shape, ElementCountRefusesOverflowAndNegativeDimensions) {
  EXPECT_EQ(element_count({}), 1);
  EXPECT_EQ(element_count({4, 0, 7}), 0);
  const std::int64_t big = std::int64_t{1} << 31;
  EXPECT_EQ(element_count({big, big / 2 - 1}), big * (big / 2 - 1));
  EXPECT_EQ(element_count({big, big}), std::int64_t{1} << 62);
  EXPECT_THROW(element_count({big, big, 2}), Error);  // 2^63
  EXPECT_THROW(element_count({2, big, big}), Error);
  EXPECT_THROW(element_count({2, -3}), Error);
}

TEST(Shape, RejectsNonsense) {
  for (const char* bad : {"", "x", "1x", "1xx3", "0x3", "-1x3", "1x3.5", "abc", "3000000000x1",
                          "1x1x1x1x1x1x1x1x1"}) {
    EXPECT_THROW(parse_shape(bad), Error) << bad;
  }
}

TEST(ModelProfile, JsonRoundTripKeepsEverything) {
  ModelProfile p;
  p.name = "tiny";
  p.input_shape = {1, 3, 8, 8};
  p.macs = 1000;
  p.flops = 2000;
  p.params = 10;
  p.size_bytes = 4096;
  p.depth = 1;
  p.param_bytes = 40;
  p.peak_activation_bytes = 512;
  Layer conv;
  conv.op = std::string(op::kConv);
  conv.aten = "aten::conv2d";
  conv.input_shapes = {{1, 3, 8, 8}, {4, 3, 3, 3}};
  conv.output_shape = {1, 4, 8, 8};
  conv.macs = 1000;
  conv.param_bytes = 432;
  conv.bytes_moved = 1200;
  conv.in_channels = 3;
  conv.out_channels = 4;
  conv.kernel_h = conv.kernel_w = 3;
  conv.stride = 1;
  conv.groups = 1;
  Layer relu;
  relu.op = std::string(op::kActivation);
  relu.aten = "aten::relu";
  relu.input_shapes = {{1, 4, 8, 8}};
  relu.output_shape = {1, 4, 8, 8};
  relu.bytes_moved = 2048;
  p.layers = {conv, relu};

  const nlohmann::json j = to_json(p);
  for (const char* key : {"macs", "flops", "params", "size_bytes", "depth", "layers"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_TRUE(j["macs"].is_number_integer());
  EXPECT_EQ(profile_from_json(j), p);
}

TEST(ModelProfile, MalformedJsonNamesTheKey) {
  nlohmann::json j = {{"input_shape", {1, 3}}, {"macs", "many"}};
  try {
    profile_from_json(j);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("macs"), std::string::npos);
  }
  EXPECT_THROW(profile_from_json(nlohmann::json::array()), Error);
}

}  // namespace
}  // namespace fleetml::model
