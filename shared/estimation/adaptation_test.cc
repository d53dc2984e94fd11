#include "shared/estimation/adaptation.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/estimation/test_support.h"

namespace fleetml::estimation {
namespace {

using testing::cnn;
using testing::device;

// Measurements of synthetic models on a device whose true times are the roofline terms scaled
// by `truth`, with lognormal scatter `sigma` (p95 = p50 x 1.05).
std::vector<Sample> measure(const std::array<double, kTermCount>& truth,
                            const std::vector<int>& variants, double sigma = 0,
                            const v1::Capability& cap = device()) {
  std::mt19937 rng(7);
  std::normal_distribution<double> z(0, 1);
  std::vector<Sample> samples;
  for (int v : variants) {
    for (int batch : {1, 4}) {
      samples.push_back(testing::synthetic_sample(v, cap, batch, truth, std::exp(sigma * z(rng))));
    }
  }
  return samples;
}

// Conv work runs 1.6x slower than calibrated and memory-bound work 0.6x: the kind of
// deviation adaptation is for.
constexpr std::array<double, kTermCount> kTruth = {1.6, 1, 1, 1, 0.6, 1, 1, 1, 1, 1};

TEST(Adaptation, RecoversAKnownFactorFromSyntheticMeasurements) {
  const DeviceCorrections c = fit_corrections(measure(kTruth, {0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(c.samples, 16);
  EXPECT_EQ(c.models, 8);
  EXPECT_NEAR(c.factor(Term::kConv), 1.6, 0.08);
  // Memory-bound work is ~10% of these models' time and trades off against the call
  // overhead, so the data pin only its direction; the prior keeps it from overshooting.
  EXPECT_LT(c.factor(Term::kMemory), 0.9);
  EXPECT_GT(c.factor(Term::kMemory), 0.5);
  EXPECT_EQ(c.device_key, device_key(device()));
}

TEST(Adaptation, ImprovesPredictionsOfModelsItHasNotSeen) {
  const std::vector<Sample> train = measure(kTruth, {0, 1, 2, 3, 4});
  const std::vector<Sample> unseen = measure(kTruth, {8, 9, 10});
  const DeviceCorrections c = fit_corrections(train);
  for (const Sample& s : unseen) {
    const RooflineTerms t = roofline_terms(*s.model, s.capability, s.batch);
    const double before = std::abs(std::log(t.total_ms() / s.p50_ms));
    const double after = std::abs(std::log(corrected_ms(t, c) / s.p50_ms));
    EXPECT_LT(after, 0.05) << s.model_id << " batch " << s.batch;
    EXPECT_LT(after, before) << s.model_id;
  }
}

TEST(Adaptation, FactorsStayNearOneWithoutEvidence) {
  // Only the conv term is wrong; the call overhead barely matters in these models and no
  // term is forced away from 1 by the prior-regularized fit.
  const DeviceCorrections c = fit_corrections(measure({1, 1, 1, 1, 1, 1, 1, 1, 1}, {0, 1, 2}));
  for (double f : c.factors) EXPECT_NEAR(f, 1.0, 0.02);
}

TEST(Adaptation, BoundNarrowsWithGoodResidualsAndWidensWithBadOnes) {
  const double prior = bound_log_margin({}, RooflineOptions());
  const DeviceCorrections clean = fit_corrections(measure(kTruth, {0, 1, 2, 3, 4, 5, 6, 7}));
  const DeviceCorrections noisy =
      fit_corrections(measure(kTruth, {0, 1, 2, 3, 4, 5, 6, 7}, /*sigma=*/0.5));
  EXPECT_EQ(clean.residuals, 16);
  EXPECT_LT(clean.bound_log_margin, prior);
  EXPECT_GT(noisy.bound_log_margin, prior);

  auto table = std::make_shared<CorrectionTable>();
  table->put(clean);
  const model::ModelProfile m = cnn(9);
  const v1::Capability cap = device();
  const Estimate adapted = RooflineEstimator(table).estimate({m, cap});
  const Estimate prior_only = RooflineEstimator().estimate({m, cap});
  EXPECT_LT(adapted.bound_ms / adapted.point_ms, prior_only.bound_ms / prior_only.point_ms);
  EXPECT_NE(adapted.basis.find("adapted to 16 measurements of 8 models"), std::string::npos)
      << adapted.basis;
  // Another device kind is not affected by this one's corrections.
  const Estimate other = RooflineEstimator(table).estimate({m, device(1.0, 2)});
  EXPECT_NE(other.basis.find("no measurements"), std::string::npos);
}

TEST(Adaptation, CorrectionsRoundTripThroughJson) {
  const DeviceCorrections c = fit_corrections(measure(kTruth, {0, 1, 2, 3}, 0.1));
  const nlohmann::json j = to_json(c);
  const DeviceCorrections back = corrections_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.device_key, c.device_key);
  EXPECT_EQ(back.factors, c.factors);
  EXPECT_EQ(back.samples, c.samples);
  EXPECT_EQ(back.models, c.models);
  EXPECT_DOUBLE_EQ(back.bound_log_margin, c.bound_log_margin);
  EXPECT_EQ(back.residuals, c.residuals);
  EXPECT_DOUBLE_EQ(back.point_rms, c.point_rms);

  nlohmann::json bad = j;
  bad["factors"]["memory"] = -1;
  EXPECT_THROW(corrections_from_json(bad), Error);
  bad = j;
  bad.erase("factors");
  EXPECT_THROW(corrections_from_json(bad), Error);

  // Corrections saved before a term existed load with that term uncorrected.
  nlohmann::json older = j;
  older["factors"].erase("pool");
  const DeviceCorrections restored = corrections_from_json(older);
  EXPECT_DOUBLE_EQ(restored.factor(Term::kPool), 1.0);
  EXPECT_DOUBLE_EQ(restored.factor(Term::kConv), c.factor(Term::kConv));
}

TEST(Adaptation, RejectsMixedDevicesAndMissingProfiles) {
  std::vector<Sample> samples = measure(kTruth, {0});
  const std::vector<Sample> other = measure(kTruth, {1}, 0, device(1.0, 2));
  samples.insert(samples.end(), other.begin(), other.end());
  EXPECT_THROW(fit_corrections(samples), Error);
  EXPECT_THROW(fit_corrections(std::vector<Sample>{}), Error);
  std::vector<Sample> no_model = measure(kTruth, {0});
  no_model[0].model = nullptr;
  EXPECT_THROW(fit_corrections(no_model), Error);

  const CorrectionTable table = CorrectionTable::fit(samples);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_NE(table.find(device_key(device(1.0, 2))), nullptr);
  EXPECT_EQ(table.find("nothing"), nullptr);
}

}  // namespace
}  // namespace fleetml::estimation
