#include "shared/characterization/characterization.h"

#include <fstream>

#include <ATen/Context.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/runtime/test_modules.h"

namespace fleetml::characterization {
namespace {

using runtime::testing::save_test_module;
using runtime::testing::TestTensor;
using ::testing::HasSubstr;

class CharacterizationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("characterization_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path save(const std::string& name, const std::vector<TestTensor>& tensors,
                             const std::string& source) {
    const auto file = dir_ / (name + ".pt");
    save_test_module(file, tensors, source);
    return file;
  }

  std::filesystem::path dir_;
};

// conv 3->4 (3x3, pad 1) on 8x8, relu, flatten, linear 256->10.
//   conv MACs = 4*8*8 outputs x 3*3*3 = 6912; linear MACs = 10 x 256 = 2560.
//   params = (4*3*3*3 + 4) + (10*256 + 10) = 112 + 2570 = 2682.
TEST_F(CharacterizationTest, ConvReluFlattenLinearByHand) {
  const auto file =
      save("small", {{"cw", {4, 3, 3, 3}}, {"cb", {4}}, {"lw", {10, 256}}, {"lb", {10}}},
           "def forward(self, x):\n"
           "  y = torch.conv2d(x, self.cw, self.cb, [1, 1], [1, 1])\n"
           "  y = torch.relu(y)\n"
           "  y = torch.flatten(y, 1)\n"
           "  return torch.linear(y, self.lw, self.lb)\n");
  const model::ModelProfile p = characterize(file, {1, 3, 8, 8});

  EXPECT_EQ(p.name, "small");
  EXPECT_EQ(p.input_shape, (model::Shape{1, 3, 8, 8}));
  EXPECT_EQ(p.params, 2682);
  EXPECT_EQ(p.param_bytes, 2682 * 4);
  EXPECT_EQ(p.macs, 6912 + 2560);
  EXPECT_EQ(p.flops, 2 * (6912 + 2560));
  EXPECT_EQ(p.depth, 2);
  EXPECT_EQ(p.size_bytes, static_cast<std::int64_t>(std::filesystem::file_size(file)));
  // relu: 1 KiB in + 1 KiB out is the largest activation traffic.
  EXPECT_EQ(p.peak_activation_bytes, 2 * 256 * 4);

  // Only top-level calls: conv2d's inner aten::convolution and linear's addmm are not layers.
  ASSERT_EQ(p.layers.size(), 4u);
  const model::Layer& conv = p.layers[0];
  EXPECT_EQ(conv.op, model::op::kConv);
  EXPECT_EQ(conv.aten, "aten::conv2d");
  EXPECT_EQ(conv.input_shapes, (std::vector<model::Shape>{{1, 3, 8, 8}, {4, 3, 3, 3}, {4}}));
  EXPECT_EQ(conv.output_shape, (model::Shape{1, 4, 8, 8}));
  EXPECT_EQ(conv.macs, 6912);
  EXPECT_EQ(conv.param_bytes, 112 * 4);
  EXPECT_EQ(conv.bytes_moved, 3 * 64 * 4 + 4 * 64 * 4 + 112 * 4);
  EXPECT_EQ(conv.in_channels, 3);
  EXPECT_EQ(conv.out_channels, 4);
  EXPECT_EQ(conv.kernel_h, 3);
  EXPECT_EQ(conv.kernel_w, 3);
  EXPECT_EQ(conv.stride, 1);
  EXPECT_EQ(conv.groups, 1);

  EXPECT_EQ(p.layers[1].op, model::op::kActivation);
  EXPECT_EQ(p.layers[1].bytes_moved, 2 * 256 * 4);
  EXPECT_EQ(p.layers[2].op, model::op::kReshape);
  EXPECT_EQ(p.layers[2].output_shape, (model::Shape{1, 256}));
  EXPECT_EQ(p.layers[2].bytes_moved, 0);

  const model::Layer& fc = p.layers[3];
  EXPECT_EQ(fc.op, model::op::kLinear);
  EXPECT_EQ(fc.output_shape, (model::Shape{1, 10}));
  EXPECT_EQ(fc.macs, 2560);
  EXPECT_EQ(fc.param_bytes, 2570 * 4);
  EXPECT_EQ(fc.kernel_h, 0);
}

// Depthwise 3x3, stride 2, pad 1 on 1x8x10x10 -> 1x8x5x5: 200 outputs x 1 x 9 = 1800 MACs.
// Then a dense 1x1 conv 8->16 with groups 2: 16*25 outputs x 4 x 1 = 1600 MACs.
TEST_F(CharacterizationTest, GroupedAndDepthwiseConvolutions) {
  const auto file = save("dw", {{"dw", {8, 1, 3, 3}}, {"gw", {16, 4, 1, 1}}},
                         "def forward(self, x):\n"
                         "  y = torch.conv2d(x, self.dw, None, [2, 2], [1, 1], [1, 1], 8)\n"
                         "  return torch.conv2d(y, self.gw, None, [1, 1], [0, 0], [1, 1], 2)\n");
  const model::ModelProfile p = characterize(file, {1, 8, 10, 10});
  ASSERT_EQ(p.layers.size(), 2u);
  EXPECT_EQ(p.layers[0].op, model::op::kDepthwiseConv);
  EXPECT_EQ(p.layers[0].macs, 1800);
  EXPECT_EQ(p.layers[0].stride, 2);
  EXPECT_EQ(p.layers[0].groups, 8);
  EXPECT_EQ(p.layers[0].output_shape, (model::Shape{1, 8, 5, 5}));
  EXPECT_EQ(p.layers[1].op, model::op::kConv);  // grouped, but groups != in_channels
  EXPECT_EQ(p.layers[1].macs, 1600);
  EXPECT_EQ(p.layers[1].groups, 2);
  EXPECT_EQ(p.layers[1].out_channels, 16);
  EXPECT_EQ(p.depth, 2);
  EXPECT_EQ(p.macs, 3400);
  EXPECT_EQ(p.params, 8 * 9 + 16 * 4);
}

// addmm with weights is a linear layer; matmul of two activations is not.
//   addmm: [2x6] x [6x3] -> 2*3*6 = 36 MACs; matmul [1x2x3] x [1x3x2] -> 4 outputs x 3 = 12.
TEST_F(CharacterizationTest, MatrixProductsFromShapes) {
  const auto file = save("mm", {{"w", {6, 3}}, {"b", {3}}},
                         "def forward(self, x):\n"
                         "  y = torch.addmm(self.b, x, self.w)\n"
                         "  z = y.unsqueeze(0)\n"
                         "  return torch.matmul(z, z.transpose(1, 2))\n");
  const model::ModelProfile p = characterize(file, {2, 6});
  std::vector<std::string> ops;
  for (const auto& l : p.layers) ops.push_back(l.op);
  EXPECT_THAT(ops, ::testing::ElementsAre(model::op::kLinear, model::op::kReshape,
                                          model::op::kReshape, model::op::kMatmul));
  EXPECT_EQ(p.layers[0].macs, 36);
  EXPECT_EQ(p.layers[3].macs, 12);
  EXPECT_EQ(p.layers[3].param_bytes, 0);
  EXPECT_EQ(p.macs, 48);
  EXPECT_EQ(p.depth, 1);
}

// Parameters count even when the forward pass does not use them (InceptionV3's AuxLogits);
// buffers are not parameters but a layer reading them moves their bytes.
TEST_F(CharacterizationTest, UnusedParametersAndBuffers) {
  const auto file = save("bn",
                         {{"w", {4}, 1.0f},
                          {"b", {4}, 0.0f},
                          {"mean", {4}, 0.0f, true},
                          {"var", {4}, 1.0f, true},
                          {"aux", {7, 5}}},
                         "def forward(self, x):\n"
                         "  return torch.batch_norm(x, self.w, self.b, self.mean, self.var, "
                         "False, 0.1, 1e-5, False)\n");
  const model::ModelProfile p = characterize(file, {1, 4, 2, 2});
  EXPECT_EQ(p.params, 4 + 4 + 35);
  ASSERT_EQ(p.layers.size(), 1u);
  EXPECT_EQ(p.layers[0].op, model::op::kBatchNorm);
  EXPECT_EQ(p.layers[0].param_bytes, 4 * 4 * 4);
  EXPECT_EQ(p.layers[0].bytes_moved, 2 * 16 * 4 + 4 * 4 * 4);
  EXPECT_EQ(p.macs, 0);
  EXPECT_EQ(p.depth, 0);
}

TEST_F(CharacterizationTest, CatAndPoolKinds) {
  const auto file = save("cat", {},
                         "def forward(self, x):\n"
                         "  y = torch.cat([x, x], 1)\n"
                         "  return torch.adaptive_avg_pool2d(y, [1, 1])\n");
  const model::ModelProfile p = characterize(file, {1, 2, 4, 4});
  ASSERT_EQ(p.layers.size(), 2u);
  EXPECT_EQ(p.layers[0].op, model::op::kConcat);
  EXPECT_EQ(p.layers[0].input_shapes.size(), 2u);
  EXPECT_EQ(p.layers[0].output_shape, (model::Shape{1, 4, 4, 4}));
  EXPECT_EQ(p.layers[1].op, model::op::kPool);
  // An adaptive pool's window: what one output covers.
  EXPECT_EQ(p.layers[1].kernel_h, 4);
  EXPECT_EQ(p.layers[1].kernel_w, 4);
  EXPECT_EQ(p.params, 0);
}

TEST_F(CharacterizationTest, PoolWindowsAndStrides) {
  const auto file = save("pools", {},
                         "def forward(self, x):\n"
                         "  y = torch.max_pool2d(x, [3, 3], [2, 2], [1, 1])\n"
                         "  z = torch.avg_pool2d(y, [2, 2])\n"
                         "  return torch.adaptive_avg_pool2d(z, [2, 3])\n");
  const model::ModelProfile p = characterize(file, {1, 2, 16, 24});
  ASSERT_EQ(p.layers.size(), 3u);
  EXPECT_EQ(p.layers[0].output_shape, (model::Shape{1, 2, 8, 12}));
  EXPECT_EQ(p.layers[0].kernel_h, 3);
  EXPECT_EQ(p.layers[0].kernel_w, 3);
  EXPECT_EQ(p.layers[0].stride, 2);
  // No stride given: it is the kernel.
  EXPECT_EQ(p.layers[1].kernel_h, 2);
  EXPECT_EQ(p.layers[1].stride, 2);
  // 4 x 6 -> 2 x 3: each output covers 2 x 2.
  EXPECT_EQ(p.layers[2].kernel_h, 2);
  EXPECT_EQ(p.layers[2].kernel_w, 2);
  // The windows survive the JSON round trip.
  EXPECT_EQ(model::profile_from_json(model::to_json(p)), p);
}

TEST_F(CharacterizationTest, RecordsWhatTheOptimizedModuleRuns) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "this LibTorch has no oneDNN: no optimized graph";
  // conv -> BN -> SiLU -> + input: freezing folds the BN into the conv; oneDNN runs the conv,
  // and SiLU (which it does not support here) needs the activation converted back to dense.
  const auto file = save("cbs",
                         {{"w", {8, 8, 3, 3}},
                          {"b", {8}},
                          {"g", {8}, 1.0f},
                          {"beta", {8}, 0.0f},
                          {"mean", {8}, 0.0f, true},
                          {"var", {8}, 1.0f, true}},
                         "def forward(self, x):\n"
                         "  y = torch.conv2d(x, self.w, self.b, [1, 1], [1, 1])\n"
                         "  y = torch.batch_norm(y, self.g, self.beta, self.mean, self.var, "
                         "False, 0.1, 1e-5, False)\n"
                         "  return torch.silu(y) + x\n");
  const model::ModelProfile p = characterize(file, {1, 8, 16, 16});
  ASSERT_EQ(p.layers.size(), 4u);  // conv, batch_norm, silu, add as written
  EXPECT_FALSE(p.optimized.arch.empty());
  std::vector<std::string> atens;
  for (const model::Layer& l : p.optimized.layers) {
    EXPECT_FALSE(model::is_mac_layer(l)) << l.aten;  // MACs come from `layers`
    EXPECT_NE(l.op, model::op::kBatchNorm) << "folded into the conv";
    atens.push_back(l.aten);
  }
  EXPECT_THAT(atens, ::testing::Contains(HasSubstr("silu")));
  EXPECT_THAT(atens, ::testing::Contains(HasSubstr("to_dense")));
  EXPECT_TRUE(model::has_optimized_graph(p, p.optimized.arch));
  EXPECT_FALSE(model::has_optimized_graph(p, "not-" + p.optimized.arch));
  std::size_t calls = 0;
  model::for_each_optimized_call(p, [&](const model::Layer&) { ++calls; });
  EXPECT_EQ(calls, 1 + p.optimized.layers.size());  // the conv, then the recorded calls
}

TEST_F(CharacterizationTest, MissingFileNamesThePath) {
  const auto file = dir_ / "absent.pt";
  try {
    characterize(file, {1, 3});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("absent.pt"));
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST_F(CharacterizationTest, NotTorchScriptIsAnError) {
  const auto file = dir_ / "junk.pt";
  std::ofstream(file) << "this is not a zip archive";
  try {
    characterize(file, {1, 3});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("junk.pt: not a loadable TorchScript file"));
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST_F(CharacterizationTest, WrongInputShapeFailsTheForwardPass) {
  const auto file =
      save("lin", {{"w", {10, 256}}}, "def forward(self, x):\n  return torch.linear(x, self.w)\n");
  try {
    characterize(file, {1, 3});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("lin.pt: forward pass on 1x3 failed"));
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace fleetml::characterization
