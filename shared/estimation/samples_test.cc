#include "shared/estimation/samples.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/estimation/estimator.h"
#include "shared/estimation/test_support.h"

namespace fleetml::estimation {
namespace {

Sample sample(const std::string& id, int batch) {
  Sample s;
  s.model_id = id;
  s.input_shape = {1, 3, 32, 32};
  s.capability = testing::device(1.0, 2, false, "");
  s.capability.mutable_device()->set_cpu_model("Cortex-A72, rev 3 \"BCM2711\"");
  v1::Gpu& g = *s.capability.mutable_device()->add_gpus();
  g.set_name("Maxwell");
  g.set_memory_gb(4);
  g.set_cores(128);
  g.set_clock_ghz(0.921);
  s.capability.mutable_device()->set_l2_cache_bytes(512 << 10);
  s.capability.mutable_device()->set_last_level_cache_bytes(2 << 20);
  s.capability.mutable_calibration()->set_source("measured");
  s.batch = batch;
  s.p50_ms = 12.5;
  s.p95_ms = 13.25;
  s.mean_ms = 12.75;
  s.min_ms = 12;
  s.peak_rss_mb = 310.5;
  s.repeats = 50;
  s.load1 = 0.12;
  s.foreign_cores = 0.01;
  s.source = "measured";
  return s;
}

TEST(Samples, CsvRoundTripsEveryColumn) {
  const std::vector<Sample> in = {sample("cnn0", 1), sample("cnn1", 4)};
  std::ostringstream out;
  write_measurements_csv(out, in);
  const std::vector<Sample> back = parse_measurements_csv(out.str(), "test.csv");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].model_id, "cnn1");
  EXPECT_EQ(back[1].batch, 4);
  EXPECT_EQ(back[1].input_shape, (model::Shape{1, 3, 32, 32}));
  EXPECT_EQ(back[0].capability.device().cpu_model(), "Cortex-A72, rev 3 \"BCM2711\"");
  EXPECT_EQ(back[0].capability.device().gpus(0).cores(), 128u);
  EXPECT_EQ(back[0].capability.device().threads(), 2u);
  EXPECT_FALSE(back[0].capability.calibration().optimized());
  EXPECT_DOUBLE_EQ(back[0].capability.calibration().depthwise_conv_gflops(), 10);
  EXPECT_EQ(device_key(back[0].capability), device_key(in[0].capability));
  EXPECT_DOUBLE_EQ(back[0].p95_ms, 13.25);
  EXPECT_DOUBLE_EQ(back[0].peak_rss_mb, 310.5);
  EXPECT_EQ(back[0].repeats, 50);
  EXPECT_EQ(back[0].source, "measured");
  EXPECT_EQ(back[0].capability.device().l2_cache_bytes(), 512u << 10);
  EXPECT_EQ(back[0].capability.device().last_level_cache_bytes(), 2u << 20);
}

TEST(Samples, ASetWithoutTheLaterColumnsReadsAsUnknown) {
  std::ostringstream out;
  Sample s = sample("cnn0", 1);
  s.capability.mutable_calibration()->set_pool_gops(2.5);
  s.capability.mutable_calibration()->set_conv_call_us(12.5);
  s.capability.mutable_calibration()->set_linear_stream_gflops(1.5);
  write_measurements_csv(out, std::vector<Sample>{s});
  const std::vector<Sample> same = parse_measurements_csv(out.str(), "new.csv");
  ASSERT_EQ(same.size(), 1u);
  EXPECT_DOUBLE_EQ(same[0].capability.calibration().pool_gops(), 2.5);
  EXPECT_DOUBLE_EQ(same[0].capability.calibration().conv_call_us(), 12.5);
  EXPECT_DOUBLE_EQ(same[0].capability.calibration().linear_stream_gflops(), 1.5);

  // Cache sizes, the pool rate, the convolution call and the streamed linear layer were added
  // after the first sets were measured.
  std::string text = out.str();
  const std::string tail =
      ",l2_cache_bytes,last_level_cache_bytes,pool_gops,conv_call_us,linear_stream_gflops\n";
  const std::string row_tail =
      "," + std::to_string(512 << 10) + "," + std::to_string(2 << 20) + ",2.5,12.5,1.5";
  ASSERT_NE(text.find(tail), std::string::npos);
  ASSERT_NE(text.find(row_tail), std::string::npos);
  text.replace(text.find(tail), tail.size(), "\n");
  text.replace(text.find(row_tail), row_tail.size(), "");
  const std::vector<Sample> back = parse_measurements_csv(text, "old.csv");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].capability.device().l2_cache_bytes(), 0u);
  EXPECT_EQ(back[0].capability.device().last_level_cache_bytes(), 0u);
  EXPECT_DOUBLE_EQ(back[0].capability.calibration().pool_gops(), 0);
  EXPECT_DOUBLE_EQ(back[0].capability.calibration().conv_call_us(), 0);
  EXPECT_DOUBLE_EQ(back[0].capability.calibration().linear_stream_gflops(), 0);
  EXPECT_DOUBLE_EQ(back[0].p50_ms, 12.5);

  std::string negative = out.str();
  negative.replace(negative.find(row_tail), row_tail.size(), ",-1,2097152,2.5,12.5,1.5");
  EXPECT_THROW(parse_measurements_csv(negative, "m.csv"), Error);
  negative = out.str();
  negative.replace(negative.find(row_tail), row_tail.size(), ",524288,2097152,-2.5,12.5,1.5");
  EXPECT_THROW(parse_measurements_csv(negative, "m.csv"), Error);
  negative = out.str();
  negative.replace(negative.find(row_tail), row_tail.size(), ",524288,2097152,2.5,-12.5,1.5");
  EXPECT_THROW(parse_measurements_csv(negative, "m.csv"), Error);
}

TEST(Samples, ReportsMalformedRowsWithTheirLine) {
  std::ostringstream out;
  write_measurements_csv(out, std::vector<Sample>{sample("cnn0", 1)});
  std::string text = out.str();
  std::string bad = text;
  bad.replace(bad.find("\ncnn0,1x3x32x32,1,"), 18, "\ncnn0,1x3x32x32,0,");
  try {
    parse_measurements_csv(bad, "m.csv");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("m.csv:2: batch", 0), 0u) << e.what();
  }
  EXPECT_THROW(parse_measurements_csv("model_id,batch\nx,1\n", "m.csv"), Error);
  EXPECT_THROW(parse_measurements_csv(text + "cnn0,1x3x32x32\n", "m.csv"), Error);
  EXPECT_THROW(parse_measurements_csv("", "m.csv"), Error);
}

TEST(Samples, AttachesProfilesFromTheModelsDirectory) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "samples_test";
  std::filesystem::create_directories(dir);
  model::ModelProfile p = testing::cnn(0);
  p.name = "cnn0";
  std::ofstream(dir / "cnn0.profile.json") << model::to_json(p).dump();
  std::vector<Sample> samples = {sample("cnn0", 1), sample("cnn0", 4)};
  attach_profiles(samples, dir);
  ASSERT_TRUE(samples[0].model);
  EXPECT_EQ(samples[0].model, samples[1].model);  // loaded once
  EXPECT_EQ(samples[0].model->macs, p.macs);

  std::vector<Sample> missing = {sample("cnn9", 1)};
  EXPECT_THROW(attach_profiles(missing, dir), Error);
  std::vector<Sample> other_shape = {sample("cnn0", 1)};
  other_shape[0].input_shape = {1, 3, 224, 224};
  EXPECT_THROW(attach_profiles(other_shape, dir), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fleetml::estimation
