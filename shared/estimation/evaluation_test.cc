#include "shared/estimation/evaluation.h"

#include <cmath>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/estimation/adaptation.h"
#include "shared/estimation/test_support.h"

namespace fleetml::estimation {
namespace {

using testing::cnn;
using testing::device;

// Six models on two device kinds; the truth is the roofline with conv work 1.5x slower.
std::vector<Sample> measurement_set() {
  std::vector<Sample> samples;
  for (const v1::Capability& cap : {device(1.0, 1), device(2.0, 2)}) {
    for (int v = 0; v < 6; ++v) {
      Sample s;
      s.model = std::make_shared<model::ModelProfile>(cnn(v));
      s.model_id = s.model->name;
      s.input_shape = s.model->input_shape;
      s.capability = cap;
      DeviceCorrections c;
      c.factors[static_cast<std::size_t>(Term::kConv)] = 1.5;
      s.p50_ms = corrected_ms(roofline_terms(*s.model, cap, 1), c);
      s.p95_ms = 1.1 * s.p50_ms;
      samples.push_back(s);
    }
  }
  return samples;
}

// An estimator that answers a fixed point and bound.
class Fixed : public Estimator {
 public:
  Fixed(double point, double bound) : point_(point), bound_(bound) {}
  std::string name() const override { return "fixed"; }
  Estimate estimate(const Query&) const override { return {point_, bound_, "fixed", ""}; }

 private:
  double point_, bound_;
};

TEST(Evaluation, NeverTrainsOnTheModelItPredicts) {
  const std::vector<Sample> samples = measurement_set();
  std::vector<std::set<std::string>> trained_on;
  const std::vector<Method> methods = {{"spy", [&](std::span<const Sample> training) {
                                          std::set<std::string> ids;
                                          for (const Sample& s : training) ids.insert(s.model_id);
                                          trained_on.push_back(ids);
                                          return std::make_shared<Fixed>(1, 2);
                                        }}};
  const EvaluationReport report = evaluate(samples, methods);
  ASSERT_EQ(trained_on.size(), 6u);  // one fold per model
  ASSERT_EQ(report.predictions.size(), samples.size());
  for (const Prediction& p : report.predictions) {
    const std::string& predicted = samples[p.sample].model_id;
    const int fold = predicted.back() - '0';  // models are held out in id order
    EXPECT_FALSE(trained_on[static_cast<std::size_t>(fold)].contains(predicted));
    EXPECT_EQ(trained_on[static_cast<std::size_t>(fold)].size(), 5u);
  }
}

TEST(Evaluation, MetricsAreDigasDefinitions) {
  std::vector<Sample> samples(4);
  const double p50[] = {10, 20, 40, 80};
  for (int i = 0; i < 4; ++i) {
    samples[i].p50_ms = p50[i];
    samples[i].p95_ms = p50[i] * 1.2;  // 12, 24, 48, 96
  }
  // Points: 9 (-10%), 25 (+25%), 40 (0%), 60 (-25%); bounds: 11, 30, 45, 100.
  const double point[] = {9, 25, 40, 60}, bound[] = {11, 30, 45, 100};
  std::vector<Prediction> predictions;
  for (std::size_t i = 0; i < 4; ++i) {
    predictions.push_back({i, "m", Estimate{point[i], bound[i], "m", ""}, ""});
  }
  predictions.push_back({0, "m", std::nullopt, "no"});
  const Metrics m = compute_metrics(samples, predictions);
  EXPECT_EQ(m.n, 4);
  EXPECT_EQ(m.unavailable, 1);
  EXPECT_DOUBLE_EQ(m.median_abs_pct_error, 17.5);
  EXPECT_DOUBLE_EQ(m.mean_abs_pct_error, 15);  // (10 + 25 + 0 + 25) / 4
  EXPECT_DOUBLE_EQ(m.within_10, 0.5);
  EXPECT_DOUBLE_EQ(m.within_20, 0.5);
  EXPECT_DOUBLE_EQ(m.under_point, 0.5);
  EXPECT_DOUBLE_EQ(m.under_bound, 2.0 / 4);  // 11 < 12, 45 < 48
  // D = 10: nothing predicted or actually feasible -> 4/4. D = 20: sample 0 predicted
  // feasible (11) but its p95 is 12 <= 20 -> right; all right. D = 50: samples 0-2 predicted
  // (11, 30, 45) and actual (12, 24, 48) -> 4/4. D = 100: all predicted, all actual (96).
  EXPECT_EQ(m.feasibility, (std::array<double, 4>{1, 1, 1, 1}));
  EXPECT_EQ(m.unsafe, 0);
  predictions[2].estimate->bound_ms = 9;  // sample 2 (p95 48) promised at D = 10 and 20
  const Metrics unsafe = compute_metrics(samples, predictions);
  EXPECT_EQ(unsafe.unsafe, 2);
  EXPECT_DOUBLE_EQ(unsafe.feasibility[0], 0.75);
}

TEST(Evaluation, AdaptationBeatsThePriorRooflineOnASystematicDeviation) {
  const std::vector<Sample> samples = measurement_set();
  const EvaluationReport report = evaluate(samples, standard_methods());
  const Metrics& roofline = report.overall.at("roofline");
  const Metrics& adapted = report.overall.at("roofline+adapt");
  EXPECT_EQ(adapted.n, 12);
  EXPECT_LT(adapted.median_abs_pct_error, roofline.median_abs_pct_error / 3);
  EXPECT_EQ(roofline.under_point, 1.0);  // conv work is really slower than calibrated
  EXPECT_EQ(report.by_configuration.size(), 2u);
  EXPECT_TRUE(report.by_configuration.contains("test/opt/t2/b1"));

  const nlohmann::json j = to_json(report, samples);
  EXPECT_EQ(j["protocol"], "leave-one-model-out");
  EXPECT_EQ(j["overall"]["roofline+adapt"]["n"], 12);
  ASSERT_EQ(j["predictions"].size(), report.predictions.size());
  const nlohmann::json& first = j["predictions"][0];
  EXPECT_EQ(first["model"], samples[report.predictions[0].sample].model_id);
  EXPECT_EQ(first["p50_ms"], samples[report.predictions[0].sample].p50_ms);
  EXPECT_TRUE(first.contains("point_ms"));
  EXPECT_NE(format_report(report).find("roofline+adapt5"), std::string::npos);
}

TEST(Evaluation, NeedsTwoModels) {
  std::vector<Sample> samples = measurement_set();
  samples.resize(1);
  EXPECT_THROW(evaluate(samples, standard_methods()), Error);
}

}  // namespace
}  // namespace fleetml::estimation
