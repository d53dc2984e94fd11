#include "shared/assignment/planner.h"

#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shared/common/error.h"

namespace fleetml::assignment {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kClassification[] = "image-classification";

CatalogEntry entry(const std::string& id, std::int64_t flops, std::int64_t params, double accuracy,
                   std::int64_t peak_activation_bytes, const std::string& task = kClassification) {
  CatalogEntry e;
  e.model_id = id;
  e.version = 3;
  e.sha256 = std::string(64, id[0]);
  e.task = task;
  e.accuracy = accuracy;
  e.input_shape = {1, 3, 224, 224};
  e.profile.name = id;
  e.profile.input_shape = e.input_shape;
  e.profile.flops = flops;
  e.profile.macs = flops / 2;
  e.profile.params = params;
  e.profile.param_bytes = params * 4;
  e.profile.peak_activation_bytes = peak_activation_bytes;
  e.size_bytes = static_cast<std::uint64_t>(params * 4 + 200'000);
  e.profile.size_bytes = static_cast<std::int64_t>(e.size_bytes);
  return e;
}

// torchvision figures (FLOPs = 2 x MACs, parameters, ImageNet top-1); one model of another
// task, which no classification application may get.
std::vector<CatalogEntry> catalog() {
  return {
      entry("mobilenet_v2", 600'000'000, 3'504'872, 0.7188, 4'816'896),
      entry("resnet18", 3'628'000'000, 11'689'512, 0.6976, 6'422'528),
      entry("resnet50", 8'180'000'000, 25'557'032, 0.7613, 12'845'056),
      entry("efficientnet_b2", 2'040'000'000, 9'109'994, 0.8061, 9'633'792),
      entry("vgg19_bn", 39'340'000'000, 143'678'248, 0.7422, 25'690'112),
      entry("ssdlite", 1'160'000'000, 3'440'060, 0.21, 8'000'000, "object-detection"),
  };
}

// Stand-in estimator (the real ones live in shared/estimation): DIGA's FLOPs proxy on the
// device's nominal GFLOPS, with a 1.5x bound.
EstimateFn flops_estimator(double gflops) {
  return [gflops](const CatalogEntry& e, std::uint32_t batch) -> std::optional<LatencyEstimate> {
    const double point = static_cast<double>(e.profile.flops) * batch / (gflops * 1e9) * 1000;
    return LatencyEstimate{point, point * 1.5, "flops", std::nullopt};
  };
}

// 1 MB/s: a model's download takes its size in MB, in seconds.
double one_mb_per_s(std::uint64_t bytes) { return static_cast<double>(bytes) / 1e6; }

v1::Capability vehicle(const std::string& id, double nominal_gflops) {
  v1::Capability c;
  c.set_vehicle_id(id);
  c.mutable_device()->set_ram_gb(8);
  c.mutable_device()->set_nominal_gflops(nominal_gflops);
  v1::Application* app = c.add_applications();
  app->set_id("front-camera");
  app->set_task(kClassification);
  app->set_batch(1);
  app->set_deadline_ms(250);
  app->set_rate_hz(2);
  app->set_min_accuracy(0.6);
  app->set_download_budget_s(600);
  return c;
}

const v1::Rejection& rejection(const v1::AppAssignment& a, const std::string& model) {
  for (const v1::Rejection& r : a.rejected()) {
    if (r.model_id() == model) return r;
  }
  throw std::runtime_error("no rejection for " + model);
}

TEST(Planner, SlowDeviceGetsCheaperModelThanFastDevice) {
  const std::vector<CatalogEntry> models = catalog();
  const v1::Capability rpi4 = vehicle("rpi4-001", 4.4);
  const v1::Capability pc = vehicle("pc-001", 1664);
  const v1::AssignmentBody slow = plan(rpi4, models, flops_estimator(4.4), one_mb_per_s, nullptr);
  const v1::AssignmentBody fast = plan(pc, models, flops_estimator(1664), one_mb_per_s, nullptr);
  // RPi 4: mobilenet_v2 is 136 ms (bound 205 ms); everything more accurate is over 250 ms.
  EXPECT_EQ(slow.applications(0).model_id(), "mobilenet_v2");
  EXPECT_EQ(rejection(slow.applications(0), "efficientnet_b2").code(), "deadline");
  EXPECT_EQ(rejection(slow.applications(0), "efficientnet_b2").reason(),
            "bound 695.5 ms > deadline 250 ms; utilization 1.391 (2 Hz / batch 1 x bound 695.5 "
            "ms) > cap 0.9");
  // PC: everything meets the deadline; the most accurate wins.
  EXPECT_EQ(fast.applications(0).model_id(), "efficientnet_b2");
  EXPECT_EQ(rejection(fast.applications(0), "resnet50").code(), "lower_accuracy");
}

TEST(Planner, BodyCarriesFiguresReasonsAndEveryRejection) {
  const std::vector<CatalogEntry> models = catalog();
  const v1::AssignmentBody body =
      plan(vehicle("pc-001", 1664), models, flops_estimator(1664), one_mb_per_s, nullptr);
  EXPECT_EQ(body.vehicle_id(), "pc-001");
  EXPECT_EQ(body.seq(), 0u);
  EXPECT_EQ(body.issued_unix_ms(), 0);
  EXPECT_EQ(body.estimator(), "flops");
  ASSERT_EQ(body.applications_size(), 1);
  const v1::AppAssignment& a = body.applications(0);
  const CatalogEntry& chosen = models[3];
  EXPECT_EQ(a.application_id(), "front-camera");
  EXPECT_EQ(a.model_id(), "efficientnet_b2");
  EXPECT_EQ(a.model_version(), 3u);
  EXPECT_EQ(a.sha256(), chosen.sha256);
  EXPECT_EQ(a.size_bytes(), chosen.size_bytes);
  EXPECT_DOUBLE_EQ(a.accuracy(), 0.8061);
  const double point = 2.04e9 / 1664e9 * 1000;
  EXPECT_DOUBLE_EQ(a.predicted_point_ms(), point);
  EXPECT_DOUBLE_EQ(a.predicted_bound_ms(), point * 1.5);
  EXPECT_DOUBLE_EQ(a.predicted_download_s(), chosen.size_bytes / 1e6);
  EXPECT_EQ(a.estimator(), "flops");
  EXPECT_DOUBLE_EQ(a.utilization(), 2 * point * 1.5 / 1000);
  EXPECT_DOUBLE_EQ(a.memory_mb(), model_memory_mb(chosen, 1));
  EXPECT_DOUBLE_EQ(a.deadline_ms(), 250);
  EXPECT_THAT(a.reason(), StartsWith("most accurate feasible: accuracy 0.806"));
  EXPECT_DOUBLE_EQ(body.utilization(), a.utilization());
  EXPECT_DOUBLE_EQ(body.memory_mb(), a.memory_mb());
  // Every other catalog model, in catalog order, with its code and figures.
  ASSERT_EQ(a.rejected_size(), 5);
  EXPECT_EQ(a.rejected(0).model_id(), "mobilenet_v2");
  EXPECT_EQ(a.rejected(4).model_id(), "ssdlite");
  EXPECT_EQ(a.rejected(4).code(), "task");
  EXPECT_EQ(a.rejected(4).reason(),
            "task object-detection, application needs image-classification");
  const v1::Rejection& vgg = rejection(a, "vgg19_bn");
  EXPECT_EQ(vgg.code(), "lower_accuracy");
  EXPECT_EQ(vgg.reason(), "accuracy 0.742 < 0.806 of chosen efficientnet_b2");
  EXPECT_DOUBLE_EQ(vgg.predicted_point_ms(), 39.34e9 / 1664e9 * 1000);
  EXPECT_DOUBLE_EQ(vgg.predicted_download_s(), models[4].size_bytes / 1e6);
  EXPECT_DOUBLE_EQ(vgg.accuracy(), 0.7422);
}

TEST(Planner, MemoryModelAndRamBudget) {
  const CatalogEntry resnet50 = catalog()[2];
  // 102.2 MB weights + 12.8 MB activations x 4 + 64 MB runtime.
  EXPECT_DOUBLE_EQ(model_memory_mb(resnet50, 4), (25'557'032.0 * 4 + 12'845'056.0 * 4) / 1e6 + 64);
  CatalogEntry unprofiled = resnet50;
  unprofiled.profile.param_bytes = 0;
  EXPECT_DOUBLE_EQ(model_memory_mb(unprofiled, 1, {.runtime_overhead_mb = 10}),
                   (resnet50.size_bytes + 12'845'056.0) / 1e6 + 10);

  v1::Device d;
  d.set_ram_gb(4);
  EXPECT_DOUBLE_EQ(ram_budget_mb(d), 2000);
  d.set_ram_budget_fraction(0.25);
  EXPECT_DOUBLE_EQ(ram_budget_mb(d), 1000);
  d.set_ram_budget_fraction(1.5);
  EXPECT_THROW(ram_budget_mb(d), Error);
  d.set_ram_gb(0);
  d.set_ram_budget_fraction(0);
  EXPECT_THROW(ram_budget_mb(d), Error);

  v1::Capability c = vehicle("no-ram", 10);
  c.mutable_device()->set_ram_gb(0);
  try {
    plan(c, catalog(), flops_estimator(10), one_mb_per_s, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), StartsWith("capability no-ram: device ram_gb must be > 0"));
  }
}

TEST(Planner, MemoryBudgetLimitsTheChoice) {
  v1::Capability c = vehicle("small-ram", 1664);
  c.mutable_device()->set_ram_gb(0.3);  // 150 MB for models
  const v1::AssignmentBody body = plan(c, catalog(), flops_estimator(1664), one_mb_per_s, nullptr);
  // efficientnet_b2 needs 36.4 + 9.6 + 64 = 110 MB: fits; resnet50 (179 MB) does not.
  EXPECT_EQ(body.applications(0).model_id(), "efficientnet_b2");
  EXPECT_EQ(rejection(body.applications(0), "resnet50").code(), "memory");
  EXPECT_THAT(rejection(body.applications(0), "resnet50").reason(), HasSubstr("> budget 150 MB"));
}

TEST(Planner, InstalledModelHasZeroDownload) {
  v1::Capability c = vehicle("pc-002", 1664);
  c.mutable_applications(0)->set_download_budget_s(20);  // only models under 20 MB
  v1::InstalledModel* installed = c.add_installed();
  installed->set_model_id("resnet50");
  installed->set_version(3);
  installed->set_sha256(std::string(64, 'r'));
  v1::InstalledModel* old = c.add_installed();
  old->set_model_id("efficientnet_b2");
  old->set_version(2);  // the catalog has version 3: a download is needed
  const v1::AssignmentBody body = plan(c, catalog(), flops_estimator(1664), one_mb_per_s, nullptr);
  const v1::AppAssignment& a = body.applications(0);
  EXPECT_EQ(a.model_id(), "resnet50");
  EXPECT_EQ(a.predicted_download_s(), 0);
  EXPECT_THAT(a.reason(), HasSubstr("installed"));
  EXPECT_EQ(rejection(a, "efficientnet_b2").code(), "download");
  EXPECT_EQ(rejection(a, "efficientnet_b2").reason(), "download 36.6 s > budget 20 s");
}

TEST(Planner, EstimatorFailureBecomesRejection) {
  const EstimateFn base = flops_estimator(1664);
  const EstimateFn flaky = [&base](const CatalogEntry& e, std::uint32_t batch) {
    if (e.model_id == "efficientnet_b2") throw Error("roofline: layer 12 has no calibration");
    if (e.model_id == "resnet50") return std::optional<LatencyEstimate>();
    if (e.model_id == "vgg19_bn") return std::optional(LatencyEstimate{10, 5, "broken", {}});
    return base(e, batch);
  };
  const v1::AssignmentBody body =
      plan(vehicle("pc-003", 1664), catalog(), flaky, one_mb_per_s, nullptr);
  const v1::AppAssignment& a = body.applications(0);
  EXPECT_EQ(a.model_id(), "mobilenet_v2");
  EXPECT_EQ(rejection(a, "efficientnet_b2").code(), "estimator");
  EXPECT_EQ(rejection(a, "efficientnet_b2").reason(),
            "no estimate: roofline: layer 12 has no calibration");
  EXPECT_EQ(rejection(a, "resnet50").code(), "estimator");
  EXPECT_EQ(rejection(a, "resnet50").reason(), "no estimate for this device");
  EXPECT_EQ(rejection(a, "vgg19_bn").code(), "estimator");
  EXPECT_EQ(rejection(a, "vgg19_bn").reason(),
            "estimator broken returned invalid figures: point 10 ms, bound 5 ms");
}

TEST(Planner, NoneFeasibleSaysWhyAndOtherAppsAreServed) {
  v1::Capability c = vehicle("rpi4-002", 4.4);
  v1::Application* lidar = c.add_applications();
  lidar->set_id("lidar");
  lidar->set_task("point-cloud-segmentation");
  lidar->set_batch(1);
  lidar->set_rate_hz(10);
  v1::Application* fast = c.add_applications();
  fast->set_id("fast-camera");
  fast->set_task(kClassification);
  fast->set_deadline_ms(50);
  fast->set_rate_hz(1);
  const EstimateFn failing = [](const CatalogEntry&,
                                std::uint32_t) -> std::optional<LatencyEstimate> {
    throw Error("nothing");
  };
  const v1::AssignmentBody body = plan(c, catalog(), flops_estimator(4.4), one_mb_per_s, nullptr);
  EXPECT_EQ(body.applications(0).model_id(), "mobilenet_v2");
  EXPECT_EQ(body.applications(1).model_id(), "");
  EXPECT_EQ(body.applications(1).reason(),
            "none feasible: no catalog model for task point-cloud-segmentation");
  EXPECT_EQ(body.applications(1).rejected_size(), 6);
  EXPECT_EQ(body.applications(2).model_id(), "");
  EXPECT_EQ(body.applications(2).reason(),
            "none feasible: 5 over deadline 50 ms (fastest bound 204.5 ms)");
  const v1::AssignmentBody unestimated = plan(c, catalog(), failing, one_mb_per_s, nullptr);
  EXPECT_EQ(unestimated.applications(0).reason(), "none feasible: 5 could not be estimated");
  EXPECT_EQ(unestimated.estimator(), "");
}

TEST(Planner, WithoutExplainOnlyTheReasonsAreLeftOut) {
  // The coordinator re-plans without reasons to find out whether the choice changed: every
  // other field must be what the explained plan has, in every kind of outcome (a choice, a
  // task without models, none feasible, a failed estimate, a trial).
  v1::Capability c = vehicle("rpi4-004", 4.4);
  c.mutable_applications(0)->set_deadline_ms(150);  // only a trial serves it
  v1::Application* lidar = c.add_applications();
  lidar->set_id("lidar");
  lidar->set_task("point-cloud-segmentation");
  v1::Application* slow = c.add_applications();
  slow->set_id("slow-camera");
  slow->set_task(kClassification);
  slow->set_deadline_ms(1000);
  slow->set_rate_hz(0.1);
  const EstimateFn base = flops_estimator(4.4);
  const EstimateFn flaky = [&base](const CatalogEntry& e, std::uint32_t batch) {
    if (e.model_id == "vgg19_bn") throw Error("roofline: no calibration");
    return base(e, batch);
  };
  for (const bool trials : {false, true}) {
    PlannerOptions options;
    options.trials = trials;
    v1::AssignmentBody explained = plan(c, catalog(), flaky, one_mb_per_s, nullptr, options);
    options.explain = false;
    const v1::AssignmentBody terse = plan(c, catalog(), flaky, one_mb_per_s, nullptr, options);
    EXPECT_EQ(explained.applications(0).trial(), trials);
    EXPECT_NE(explained.applications(2).model_id(), "");
    int reasons = 0;
    for (v1::AppAssignment& app : *explained.mutable_applications()) {
      reasons += !app.reason().empty();
      app.clear_reason();
      for (v1::Rejection& r : *app.mutable_rejected()) {
        reasons += !r.reason().empty();
        r.clear_reason();
      }
    }
    EXPECT_GE(reasons, 3 + 5 + 6 + 5);  // every application and rejection had one
    EXPECT_EQ(terse.SerializeAsString(), explained.SerializeAsString());
  }
}

// RPi 4 at 150 ms: mobilenet_v2's point is 136.4 ms but its bound 204.5 ms; nothing else is
// under 150 ms even by its point.
TEST(Planner, UnmeasuredModelWhosePointMeetsTheDeadlineIsATrial) {
  v1::Capability c = vehicle("rpi4-003", 4.4);
  c.mutable_applications(0)->set_deadline_ms(150);
  PlannerOptions trials;
  trials.trials = true;
  const v1::AssignmentBody body =
      plan(c, catalog(), flops_estimator(4.4), one_mb_per_s, nullptr, trials);
  const v1::AppAssignment& app = body.applications(0);
  EXPECT_EQ(app.model_id(), "mobilenet_v2");
  EXPECT_TRUE(app.trial());
  EXPECT_DOUBLE_EQ(app.predicted_bound_ms(), 600e6 / 4.4e9 * 1000 * 1.5);  // reported as is
  EXPECT_THAT(app.reason(), StartsWith("trial: no model's bound meets the deadline of 150 ms; "
                                       "mobilenet_v2 (point 136.4 ms, bound 204.5 ms)"));
  EXPECT_EQ(app.rejected_size(), 5);
  EXPECT_NEAR(body.utilization(), 2 * 0.1364, 1e-3);  // judged by its point

  // Off by default: the bound must meet the deadline.
  const auto off = plan(c, catalog(), flops_estimator(4.4), one_mb_per_s, nullptr);
  EXPECT_EQ(off.applications(0).model_id(), "");
  EXPECT_FALSE(off.applications(0).trial());

  // Once measured on this device kind, the measurement decides: no trial of that model.
  const EstimateFn measured = [](const CatalogEntry& e,
                                 std::uint32_t batch) -> std::optional<LatencyEstimate> {
    auto estimate = flops_estimator(4.4)(e, batch);
    estimate->measured = e.model_id == "mobilenet_v2";
    return estimate;
  };
  const auto after = plan(c, catalog(), measured, one_mb_per_s, nullptr, trials);
  EXPECT_EQ(after.applications(0).model_id(), "");
  EXPECT_THAT(after.applications(0).reason(), StartsWith("none feasible"));
}

TEST(Planner, TrialHoldsTheOtherApplicationsChoicesAndTheirBudget) {
  v1::Capability c = vehicle("rpi4-004", 4.4);  // front-camera: mobilenet_v2, utilization 0.41
  v1::Application* second = c.add_applications();
  *second = c.applications(0);
  second->set_id("rear-camera");
  second->set_deadline_ms(150);
  second->set_rate_hz(1);
  PlannerOptions trials;
  trials.trials = true;
  const auto fits = plan(c, catalog(), flops_estimator(4.4), one_mb_per_s, nullptr, trials);
  EXPECT_EQ(fits.applications(0).model_id(), "mobilenet_v2");
  EXPECT_FALSE(fits.applications(0).trial());
  EXPECT_EQ(fits.applications(1).model_id(), "mobilenet_v2");
  EXPECT_TRUE(fits.applications(1).trial());

  second->set_rate_hz(4);  // 0.41 + 4 x 0.136 > 0.9: the trial would not fit beside it
  const auto full = plan(c, catalog(), flops_estimator(4.4), one_mb_per_s, nullptr, trials);
  EXPECT_EQ(full.applications(0).model_id(), "mobilenet_v2");
  EXPECT_EQ(full.applications(1).model_id(), "");
  EXPECT_FALSE(full.applications(1).trial());
}

TEST(Planner, HysteresisFollowsTheCurrentAssignment) {
  v1::Capability c = vehicle("pc-004", 1664);
  v1::AssignmentBody current;
  v1::AppAssignment* was = current.add_applications();
  was->set_application_id("front-camera");
  was->set_model_id("resnet50");
  // efficientnet_b2 gains 0.045 over resnet50.
  EXPECT_EQ(
      plan(c, catalog(), flops_estimator(1664), one_mb_per_s, &current).applications(0).model_id(),
      "efficientnet_b2");
  const v1::AssignmentBody kept =
      plan(c, catalog(), flops_estimator(1664), one_mb_per_s, &current, {.hysteresis = 0.05});
  EXPECT_EQ(kept.applications(0).model_id(), "resnet50");
  EXPECT_EQ(rejection(kept.applications(0), "efficientnet_b2").code(), "hysteresis");
  // Without a current assignment, the installed model active for the application counts.
  v1::InstalledModel* active = c.add_installed();
  active->set_model_id("resnet50");
  active->set_version(1);
  active->set_application_id("front-camera");
  EXPECT_EQ(plan(c, catalog(), flops_estimator(1664), one_mb_per_s, nullptr, {.hysteresis = 0.05})
                .applications(0)
                .model_id(),
            "resnet50");
}

TEST(Planner, EstimatesOncePerModelAndBatch) {
  v1::Capability c = vehicle("pc-005", 1664);
  *c.add_applications() = c.applications(0);
  c.mutable_applications(1)->set_id("rear-camera");
  v1::Application* batched = c.add_applications();
  *batched = c.applications(0);
  batched->set_id("scene");
  batched->set_batch(4);
  std::map<std::pair<std::string, std::uint32_t>, int> calls;
  const EstimateFn base = flops_estimator(1664);
  const EstimateFn counting = [&](const CatalogEntry& e, std::uint32_t batch) {
    ++calls[{e.model_id, batch}];
    return base(e, batch);
  };
  const v1::AssignmentBody body = plan(c, catalog(), counting, one_mb_per_s, nullptr);
  EXPECT_EQ(calls.size(), 10u);  // 5 classification models x batches {1, 4}
  for (const auto& [key, n] : calls) EXPECT_EQ(n, 1) << key.first << " batch " << key.second;
  // The batch-4 application sees batch-4 figures.
  EXPECT_DOUBLE_EQ(body.applications(2).predicted_point_ms(),
                   4 * body.applications(0).predicted_point_ms());
}

TEST(Planner, ProtoZerosMeanUnset) {
  v1::Capability c = vehicle("rpi4-003", 4.4);
  c.mutable_applications(0)->set_deadline_ms(0);        // no deadline
  c.mutable_applications(0)->set_batch(0);              // batch 1
  c.mutable_applications(0)->set_download_budget_s(0);  // no download limit
  c.mutable_applications(0)->set_rate_hz(0.05);
  const v1::AssignmentBody body = plan(
      c, catalog(), flops_estimator(4.4), [](std::uint64_t) { return 1e6; }, nullptr);
  EXPECT_EQ(body.applications(0).model_id(), "efficientnet_b2");
  EXPECT_EQ(body.applications(0).deadline_ms(), 0);
  EXPECT_DOUBLE_EQ(body.applications(0).predicted_point_ms(), 2.04e9 / 4.4e9 * 1000);
}

}  // namespace
}  // namespace fleetml::assignment
