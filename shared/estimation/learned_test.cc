#include "shared/estimation/learned.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "shared/estimation/adaptation.h"
#include "shared/estimation/test_support.h"

namespace fleetml::estimation {
namespace {

using testing::cnn;
using testing::device;

// Synthetic fleet: three device kinds whose conv work is 1.2, 1.5 and 1.8x slower than the
// roofline says, measured with 3% scatter.
std::vector<Sample> fleet(const std::vector<int>& variants) {
  std::mt19937 rng(11);
  std::normal_distribution<double> z(0, 0.03);
  std::vector<Sample> samples;
  const std::vector<std::pair<double, double>> devices = {{0.5, 1.2}, {1.0, 1.5}, {2.0, 1.8}};
  for (const auto& [scale, conv_factor] : devices) {
    const v1::Capability cap = device(scale, 1, true, "scale" + std::to_string(scale));
    std::array<double, kTermCount> truth;
    truth.fill(1.0);
    truth[static_cast<std::size_t>(Term::kConv)] = conv_factor;
    for (int v : variants) {
      for (int batch : {1, 4}) {
        samples.push_back(testing::synthetic_sample(v, cap, batch, truth, std::exp(z(rng))));
      }
    }
  }
  return samples;
}

TEST(Learned, FeaturesHaveTheirNamesAndMarkMissingNominalGflops) {
  const model::ModelProfile m = cnn(2);
  v1::Capability cap = device();
  std::vector<float> f = features(m, cap, 4);
  ASSERT_EQ(f.size(), feature_names().size());
  EXPECT_FLOAT_EQ(f.back(), static_cast<float>(std::log10(roofline_terms(m, cap, 4).total_ms())));
  cap.mutable_device()->set_nominal_gflops(0);
  f = features(m, cap, 4);
  const auto nominal =
      std::find(feature_names().begin(), feature_names().end(), "log_nominal_gflops") -
      feature_names().begin();
  EXPECT_TRUE(std::isnan(f[static_cast<std::size_t>(nominal)]));
}

TEST(Learned, PredictsUnseenModelsOfKnownDevicesCloserThanTheRoofline) {
  const auto model = LearnedModel::train(fleet({0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(model->samples(), 48);
  EXPECT_EQ(model->models(), 8);
  double learned_error = 0, roofline_error = 0;
  for (const Sample& s : fleet({8, 9, 10})) {
    learned_error +=
        std::abs(std::log(model->predict_ms(*s.model, s.capability, s.batch) / s.p50_ms));
    roofline_error +=
        std::abs(std::log(roofline_terms(*s.model, s.capability, s.batch).total_ms() / s.p50_ms));
  }
  EXPECT_LT(learned_error, roofline_error / 2);
}

TEST(Learned, RoundTripsThroughBytes) {
  const std::vector<Sample> samples = fleet({0, 1, 2, 3, 4, 5});
  const auto model = LearnedModel::train(samples);
  const std::string bytes = model->to_bytes();
  const auto back = LearnedModel::from_bytes(bytes);
  EXPECT_EQ(back->samples(), model->samples());
  EXPECT_EQ(back->models(), model->models());
  EXPECT_DOUBLE_EQ(back->bound_log_margin(), model->bound_log_margin());
  for (const Sample& s : fleet({7})) {
    EXPECT_DOUBLE_EQ(back->predict_ms(*s.model, s.capability, s.batch),
                     model->predict_ms(*s.model, s.capability, s.batch));
  }
  EXPECT_EQ(back->to_bytes(), bytes);
}

TEST(Learned, RejectsForeignBytesAndEmptyTraining) {
  EXPECT_THROW(LearnedModel::from_bytes("not a model"), Error);
  EXPECT_THROW(LearnedModel::from_bytes("fleetml-learned-v1\n{\"features\": []}\n{}"), Error);
  const std::string bytes = LearnedModel::train(fleet({0, 1, 2}))->to_bytes();
  EXPECT_THROW(LearnedModel::from_bytes(bytes.substr(0, bytes.size() / 2)), Error);
  EXPECT_THROW(LearnedModel::train(std::vector<Sample>{}), Error);
  EXPECT_THROW(LearnedEstimator(nullptr), Error);
}

TEST(Learned, EstimatorBoundCoversTheTrainingScatter) {
  const auto model = LearnedModel::train(fleet({0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_GT(model->bound_log_margin(), 0);
  const LearnedEstimator estimator(model);
  const model::ModelProfile m = cnn(9);
  const v1::Capability cap = device();
  const Estimate e = estimator.estimate({m, cap, 1});
  EXPECT_EQ(e.estimator, "learned");
  EXPECT_GT(e.bound_ms, e.point_ms);
  EXPECT_NE(e.basis.find("48 measurements of 8 models"), std::string::npos) << e.basis;
}

}  // namespace
}  // namespace fleetml::estimation
