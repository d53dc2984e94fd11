#include "shared/runtime/runtime.h"

#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "shared/runtime/test_modules.h"

namespace fleetml::runtime {
namespace {

using ::testing::HasSubstr;
using testing::save_test_module;

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::path(::testing::TempDir()) /
        ("runtime_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // conv 3->8 + batch norm + relu + global pool + linear 8->5: a model freezing folds and
  // optimize_for_inference prepacks.
  std::filesystem::path small_cnn() {
    const auto file = dir_ / "cnn.pt";
    save_test_module(file,
                     {{"cw", {8, 3, 3, 3}},
                      {"bw", {8}, 1.0f},
                      {"bb", {8}, 0.0f},
                      {"mean", {8}, 0.0f, true},
                      {"var", {8}, 1.0f, true},
                      {"lw", {5, 8}},
                      {"lb", {5}}},
                     "def forward(self, x):\n"
                     "  y = torch.conv2d(x, self.cw, None, [1, 1], [1, 1])\n"
                     "  y = torch.batch_norm(y, self.bw, self.bb, self.mean, self.var, False, "
                     "0.1, 1e-5, False)\n"
                     "  y = torch.relu(y)\n"
                     "  y = torch.adaptive_avg_pool2d(y, [1, 1]).flatten(1)\n"
                     "  return torch.linear(y, self.lw, self.lb)\n");
    return file;
  }

  std::filesystem::path module(const std::string& name, const std::string& source) {
    const auto file = dir_ / (name + ".pt");
    save_test_module(file, {}, source);
    return file;
  }

  std::filesystem::path dir_;
};

TEST_F(RuntimeTest, RunsInBothModesWithBatches) {
  const auto file = small_cnn();
  for (bool optimized : {true, false}) {
    Model model(file, {1, optimized});
    EXPECT_EQ(model.config().optimized, optimized);
    EXPECT_GT(model.load_ms(), 0);
    const Output one = model.run_zeros({1, 3, 16, 16});
    EXPECT_EQ(one.shape, (model::Shape{1, 5})) << optimized;
    EXPECT_TRUE(one.finite);
    EXPECT_EQ(model.run_zeros({1, 3, 16, 16}, 4).shape, (model::Shape{4, 5})) << optimized;
  }
}

TEST_F(RuntimeTest, SmokeTestPassesOnAHealthyModel) {
  EXPECT_NO_THROW(smoke_test(small_cnn(), {1, 3, 16, 16}));
  EXPECT_NO_THROW(smoke_test(small_cnn(), {1, 3, 16, 16}, {1, false}));
}

TEST_F(RuntimeTest, SmokeTestReportsAForwardThatRaises) {
  const auto file = module("raises",
                           "def forward(self, x):\n"
                           "  assert bool(x.sum() != 0.0), \"sensor frame rejected\"\n"
                           "  return x\n");
  for (bool optimized : {true, false}) {
    try {
      smoke_test(file, {1, 3}, {1, optimized});
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("raises.pt: forward on 1x3 failed"));
      EXPECT_THAT(e.what(), HasSubstr("sensor frame rejected"));
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

TEST_F(RuntimeTest, SmokeTestReportsNaNOutput) {
  const auto file = module("nan", "def forward(self, x):\n  return x / x\n");  // 0/0 on zeros
  for (bool optimized : {true, false}) {
    try {
      smoke_test(file, {1, 4}, {1, optimized});
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("nan.pt: smoke test: output contains NaN or infinity"));
    }
  }
}

TEST_F(RuntimeTest, SmokeTestRejectsATupleOutput) {
  const auto file = module("tuple", "def forward(self, x):\n  return (x, x)\n");
  try {
    smoke_test(file, {1, 4}, {1, false});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("tuple.pt: forward returned Tuple, expected one tensor"));
  }
}

TEST_F(RuntimeTest, LoadFailuresNameTheFile) {
  try {
    Model(dir_ / "absent.pt", {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("absent.pt: cannot load TorchScript"));
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
  EXPECT_THROW(Model(small_cnn(), {0, true}), Error);
}

TEST_F(RuntimeTest, BenchmarkReturnsSanePercentiles) {
  const BenchmarkResult r = benchmark(small_cnn(), {1, 3, 16, 16}, {1, true}, 2, 2, 15);
  EXPECT_GT(r.min_ms, 0);
  EXPECT_LE(r.min_ms, r.p50_ms);
  EXPECT_LE(r.p50_ms, r.p95_ms);
  EXPECT_GE(r.mean_ms, r.min_ms);
  EXPECT_GT(r.load_ms, 0);
  EXPECT_GT(r.peak_rss_mb, 1);
  EXPECT_GE(r.energy_j, 0);
  EXPECT_EQ(r.energy_j > 0, !r.energy_source.empty());
  EXPECT_EQ(r.batch, 2);
  EXPECT_EQ(r.threads, 1);
  EXPECT_TRUE(r.optimized);
  EXPECT_EQ(r.warmup, 2);
  EXPECT_EQ(r.repeats, 15);
  EXPECT_THROW(benchmark(small_cnn(), {1, 3, 16, 16}, {}, 1, 0, 0), Error);
}

TEST_F(RuntimeTest, CalibrationRatesArePositiveAndFinite) {
  const ManualClock clock;
  for (bool optimized : {true, false}) {
    const v1::Calibration c = calibrate({1, optimized}, clock);
    for (double rate :
         {c.gemm_gflops(), c.conv_gflops(), c.pointwise_conv_gflops(), c.depthwise_conv_gflops(),
          c.linear_gflops(), c.memory_bandwidth_gbps(), c.op_overhead_us(), c.pool_gops(),
          c.conv_call_us(), c.linear_stream_gflops(), c.duration_s()}) {
      EXPECT_TRUE(std::isfinite(rate) && rate > 0) << rate << "\n" << c.DebugString();
    }
    // A convolution call (oneDNN primitive, output allocation) costs more than dispatching
    // a 1-element add.
    EXPECT_GT(c.conv_call_us(), c.op_overhead_us()) << c.DebugString();
    EXPECT_EQ(c.threads(), 1u);
    EXPECT_EQ(c.optimized(), optimized);
    EXPECT_EQ(c.source(), "measured");
    EXPECT_EQ(c.measured_unix_ms(), clock.now_unix_ms());
  }
}

TEST(RuntimeNameTest, NamesLibTorch) { EXPECT_THAT(runtime_name(), HasSubstr("libtorch-1.")); }

}  // namespace
}  // namespace fleetml::runtime
