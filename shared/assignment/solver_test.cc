#include "shared/assignment/solver.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <tuple>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shared/assignment/reasons.h"
#include "shared/common/error.h"

namespace fleetml::assignment {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Candidate model(std::string id, double accuracy, double bound_ms, double memory_mb = 100) {
  Candidate c;
  c.model_id = std::move(id);
  c.accuracy = accuracy;
  c.point_ms = bound_ms * 0.8;
  c.bound_ms = bound_ms;
  c.memory_mb = memory_mb;
  c.download_s = 1;
  c.size_bytes = 10'000'000;
  c.energy_j = 0.1;
  return c;
}

AppProblem app(std::string id, std::vector<Candidate> candidates, double deadline_ms = 100,
               double rate_hz = 1) {
  AppProblem a;
  a.id = std::move(id);
  a.deadline_ms = deadline_ms;
  a.rate_hz = rate_hz;
  a.download_budget_s = 60;
  a.candidates = std::move(candidates);
  return a;
}

Problem vehicle(std::vector<AppProblem> apps, double memory_budget_mb = 1000) {
  Problem p;
  p.memory_budget_mb = memory_budget_mb;
  p.apps = std::move(apps);
  return p;
}

std::string chosen_id(const Problem& p, const Solution& s, std::size_t a) {
  return s.apps[a].chosen ? p.apps[a].candidates[*s.apps[a].chosen].model_id : "";
}

const Rejection& rejection_of(const Problem& p, const Solution& s, std::size_t a,
                              const std::string& id) {
  for (const Rejection& r : s.apps[a].rejected) {
    if (p.apps[a].candidates[r.candidate].model_id == id) return r;
  }
  throw std::runtime_error("no rejection for " + id);
}

TEST(Reasons, NumbersAreShortAndRounded) {
  EXPECT_EQ(reasons::number(143.2, 1), "143.2");
  EXPECT_EQ(reasons::number(100, 1), "100");
  EXPECT_EQ(reasons::number(0.76, 3), "0.76");
  EXPECT_EQ(reasons::number(0.008, 3), "0.008");
  EXPECT_EQ(reasons::number(0.0004, 3), "0");
  EXPECT_EQ(reasons::number(2.8645, 3), "2.865");
  EXPECT_EQ(reasons::number(-0.05, 3), "-0.05");
  EXPECT_EQ(reasons::number(1e13, 1), "1e+13");
  EXPECT_EQ(reasons::number(kNoLimit, 1), "inf");
}

TEST(Solver, SingleAppPicksMostAccurateFeasible) {
  const Problem p = vehicle(
      {app("cam", {model("small", 0.70, 20), model("big", 0.80, 150), model("mid", 0.76, 60)})});
  const Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "mid");
  EXPECT_EQ(s.served, 1u);
  EXPECT_DOUBLE_EQ(s.apps[0].utilization, 0.06);
  EXPECT_DOUBLE_EQ(s.apps[0].memory_mb, 100);
  EXPECT_THAT(s.apps[0].reason, StartsWith("most accurate feasible: accuracy 0.76, bound 60 ms"));
  ASSERT_EQ(s.apps[0].rejected.size(), 2u);
  EXPECT_EQ(rejection_of(p, s, 0, "big").code, RejectCode::kDeadline);
  EXPECT_EQ(rejection_of(p, s, 0, "small").code, RejectCode::kLowerAccuracy);
  EXPECT_EQ(rejection_of(p, s, 0, "small").reason, "accuracy 0.7 < 0.76 of chosen mid");
}

TEST(Solver, IndividualRejectionsHaveCodesAndNumbers) {
  Candidate slow = model("slow", 0.9, 143.2);
  Candidate weak = model("weak", 0.5, 10);
  Candidate far = model("far", 0.9, 10);
  far.download_s = 95.5;
  Candidate hog = model("hog", 0.9, 90);  // 20 Hz x 90 ms = 1.8 > 0.9
  Candidate fat = model("fat", 0.9, 10, 1500);
  Candidate both = model("both", 0.5, 200);
  AppProblem a = app("cam", {slow, weak, far, hog, fat, both, model("ok", 0.6, 5)}, 100, 20);
  a.min_accuracy = 0.55;
  const Problem p = vehicle({a}, 1000);
  const Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "ok");
  const Rejection& r_slow = rejection_of(p, s, 0, "slow");
  EXPECT_EQ(r_slow.code, RejectCode::kDeadline);
  EXPECT_EQ(r_slow.reason,
            "bound 143.2 ms > deadline 100 ms; utilization 2.864 (20 Hz / batch "
            "1 x bound 143.2 ms) > cap 0.9");
  EXPECT_EQ(rejection_of(p, s, 0, "weak").code, RejectCode::kAccuracyFloor);
  EXPECT_EQ(rejection_of(p, s, 0, "weak").reason, "accuracy 0.5 < floor 0.55");
  EXPECT_EQ(rejection_of(p, s, 0, "far").code, RejectCode::kDownload);
  EXPECT_EQ(rejection_of(p, s, 0, "far").reason, "download 95.5 s > budget 60 s");
  EXPECT_EQ(rejection_of(p, s, 0, "hog").code, RejectCode::kUtilization);
  EXPECT_EQ(rejection_of(p, s, 0, "hog").reason,
            "utilization 1.8 (20 Hz / batch 1 x bound 90 ms) > cap 0.9");
  EXPECT_EQ(rejection_of(p, s, 0, "fat").code, RejectCode::kMemory);
  EXPECT_EQ(rejection_of(p, s, 0, "fat").reason, "memory 1500 MB > budget 1000 MB");
  // Several failures: every one listed, the code is the first in priority order.
  EXPECT_EQ(rejection_of(p, s, 0, "both").code, RejectCode::kDeadline);
  EXPECT_THAT(rejection_of(p, s, 0, "both").reason,
              HasSubstr("bound 200 ms > deadline 100 ms; accuracy 0.5 < floor 0.55"));
  EXPECT_EQ(code_name(RejectCode::kAccuracyFloor), "accuracy_floor");
  EXPECT_EQ(code_name(RejectCode::kJointUtilization), "joint_utilization");
}

TEST(Solver, InstalledModelIgnoresDownloadBudget) {
  Candidate installed = model("installed", 0.8, 10);
  installed.installed = true;
  installed.download_s = 0;
  Candidate remote = model("remote", 0.9, 10);
  remote.download_s = 1000;
  Candidate remote_installed = model("remote_but_installed", 0.85, 10);
  remote_installed.installed = true;
  remote_installed.download_s = 1000;  // ignored: nothing to download
  const Problem p = vehicle({app("cam", {installed, remote, remote_installed})});
  const Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "remote_but_installed");
  EXPECT_THAT(s.apps[0].reason, HasSubstr("installed"));
  EXPECT_EQ(rejection_of(p, s, 0, "remote").code, RejectCode::kDownload);
}

TEST(Solver, JointUtilizationForcesCheaperPair) {
  // Alone each app would take its 0.6-utilization model; together (cap 0.9) the optimum is
  // one big + one small: 0.6 + 0.3. Accuracy: a_big + b_small = 0.9 + 0.7 = 1.6 beats
  // a_small + b_big = 0.75 + 0.8 = 1.55.
  const Problem p =
      vehicle({app("a", {model("a_big", 0.9, 60), model("a_small", 0.75, 30)}, 100, 10),
               app("b", {model("b_big", 0.8, 60), model("b_small", 0.7, 30)}, 100, 10)});
  const Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "a_big");
  EXPECT_EQ(chosen_id(p, s, 1), "b_small");
  EXPECT_NEAR(s.utilization, 0.9, 1e-12);
  const Rejection& r = rejection_of(p, s, 1, "b_big");
  EXPECT_EQ(r.code, RejectCode::kJointUtilization);
  EXPECT_EQ(r.reason, "utilization 0.6 + 0.6 of the other applications' models > cap 0.9");
  EXPECT_EQ(rejection_of(p, s, 0, "a_small").code, RejectCode::kLowerAccuracy);
  EXPECT_THAT(s.apps[1].reason, StartsWith("most accurate that fits with the other"));
}

TEST(Solver, JointMemoryForcesCheaperPair) {
  // a_big + b_small = 0.9 + 0.7 beats a_small + b_big = 0.6 + 0.8.
  const Problem p =
      vehicle({app("a", {model("a_big", 0.9, 10, 600), model("a_small", 0.6, 10, 300)}),
               app("b", {model("b_big", 0.8, 10, 600), model("b_small", 0.7, 10, 300)})},
              1000);
  const Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "a_big");
  EXPECT_EQ(chosen_id(p, s, 1), "b_small");
  EXPECT_EQ(rejection_of(p, s, 1, "b_big").code, RejectCode::kJointMemory);
  EXPECT_EQ(rejection_of(p, s, 1, "b_big").reason,
            "memory 600 MB + 600 MB of the other applications' models > budget 1000 MB");
  EXPECT_DOUBLE_EQ(s.memory_mb, 900);
}

TEST(Solver, ServingMoreApplicationsBeatsAccuracy) {
  // a_huge alone leaves no room for b; serving both with a_tiny wins despite 0.99 vs 0.5.
  const Problem p =
      vehicle({app("a", {model("a_huge", 0.99, 10, 900), model("a_tiny", 0.5, 10, 100)}),
               app("b", {model("b_only", 0.6, 10, 500)})},
              1000);
  const Solution s = solve(p);
  EXPECT_EQ(s.served, 2u);
  EXPECT_EQ(chosen_id(p, s, 0), "a_tiny");
  EXPECT_EQ(chosen_id(p, s, 1), "b_only");
  EXPECT_EQ(rejection_of(p, s, 0, "a_huge").code, RejectCode::kJointMemory);
}

TEST(Solver, InfeasibleAppGetsNoneWithReasonsWhileOthersAreServed) {
  AppProblem hard = app("hard", {model("x", 0.9, 300), model("y", 0.5, 20), model("z", 0.9, 250)});
  hard.min_accuracy = 0.6;
  const Problem p = vehicle({hard, app("easy", {model("e", 0.7, 10)})});
  const Solution s = solve(p);
  EXPECT_FALSE(s.apps[0].chosen);
  EXPECT_EQ(s.apps[0].rejected.size(), 3u);
  EXPECT_EQ(s.apps[0].reason,
            "none feasible: 2 over deadline 100 ms (fastest bound 20 ms); 1 below accuracy floor "
            "0.6 (best 0.9)");
  EXPECT_EQ(chosen_id(p, s, 1), "e");
  EXPECT_EQ(s.served, 1u);
}

TEST(Solver, JointlyInfeasibleAppSaysSo) {
  // Each app fits alone, both cannot: the one left without a model says why.
  const Problem p =
      vehicle({app("a", {model("a1", 0.9, 10, 700)}), app("b", {model("b1", 0.8, 10, 700)})}, 1000);
  const Solution s = solve(p);
  EXPECT_EQ(s.served, 1u);
  EXPECT_EQ(chosen_id(p, s, 0), "a1");
  EXPECT_FALSE(s.apps[1].chosen);
  EXPECT_EQ(rejection_of(p, s, 1, "b1").code, RejectCode::kJointMemory);
  EXPECT_THAT(s.apps[1].reason,
              HasSubstr("1 fit alone but not within the memory left by the other applications' "
                        "models (300 MB)"));
}

TEST(Solver, NoCandidatesAndNoApps) {
  EXPECT_TRUE(solve(vehicle({})).apps.empty());
  const Solution s = solve(vehicle({app("a", {})}));
  EXPECT_FALSE(s.apps[0].chosen);
  EXPECT_EQ(s.apps[0].reason, "none feasible: no candidate models");
}

TEST(Solver, TiesAreDeterministic) {
  // Identical figures: the smaller model id wins, whatever the candidate order.
  for (bool reversed : {false, true}) {
    std::vector<Candidate> cs = {model("beta", 0.8, 10), model("alpha", 0.8, 10)};
    if (reversed) std::reverse(cs.begin(), cs.end());
    const Problem p = vehicle({app("a", cs)});
    const Solution s = solve(p);
    EXPECT_EQ(chosen_id(p, s, 0), "alpha");
    EXPECT_THAT(rejection_of(p, s, 0, "beta").reason,
                HasSubstr("tie goes to the smaller model id"));
  }
  // Equal accuracy: lower power wins, then the smaller download.
  Candidate hungry = model("a_hungry", 0.8, 10);
  hungry.energy_j = 0.5;
  Candidate frugal = model("z_frugal", 0.8, 10);
  frugal.energy_j = 0.2;
  Problem p = vehicle({app("a", {hungry, frugal}, 100, 10)});
  Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "z_frugal");
  EXPECT_EQ(rejection_of(p, s, 0, "a_hungry").reason,
            "same accuracy as chosen z_frugal, higher power 5 W > 2 W");
  Candidate heavy = model("a_heavy", 0.8, 10);
  heavy.size_bytes = 50'000'000;
  Candidate light = model("z_light", 0.8, 10);
  light.size_bytes = 5'000'000;
  p = vehicle({app("a", {heavy, light})});
  s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "z_light");
  EXPECT_EQ(rejection_of(p, s, 0, "a_heavy").reason,
            "same accuracy as chosen z_light, larger download 50 MB > 5 MB");
}

TEST(Solver, HysteresisKeepsIncumbentForSmallGain) {
  Candidate current = model("current", 0.760, 10);
  current.current = true;
  current.installed = true;
  Problem p = vehicle({app("a", {current, model("better", 0.768, 10)})});
  p.hysteresis = 0.01;
  Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "current");
  EXPECT_EQ(rejection_of(p, s, 0, "better").code, RejectCode::kHysteresis);
  EXPECT_EQ(rejection_of(p, s, 0, "better").reason,
            "accuracy 0.768 gains 0.008 over current current (0.76), switching needs more than "
            "0.01");
  EXPECT_THAT(s.apps[0].reason, StartsWith("current model kept: best alternative gains 0.008"));
  // A gain of exactly the threshold is not enough either.
  p.apps[0].candidates[1].accuracy = 0.770;
  EXPECT_EQ(chosen_id(p, solve(p), 0), "current");
}

TEST(Solver, HysteresisSwitchesForLargeGain) {
  Candidate current = model("current", 0.76, 10);
  current.current = true;
  Problem p = vehicle({app("a", {current, model("better", 0.80, 10)})});
  p.hysteresis = 0.01;
  const Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "better");
  EXPECT_EQ(rejection_of(p, s, 0, "current").code, RejectCode::kLowerAccuracy);
  EXPECT_EQ(rejection_of(p, s, 0, "current").reason,
            "current model; better gains 0.04 accuracy, more than hysteresis 0.01");
}

TEST(Solver, HysteresisSwitchesWhenIncumbentBecomesInfeasible) {
  Candidate current = model("current", 0.80, 120);  // now over the 100 ms deadline
  current.current = true;
  current.installed = true;
  Problem p = vehicle({app("a", {current, model("other", 0.70, 50)})});
  p.hysteresis = 0.5;
  const Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "other");
  EXPECT_EQ(rejection_of(p, s, 0, "current").code, RejectCode::kDeadline);
}

TEST(Solver, HysteresisNeverCostsAnApplication) {
  // Keeping a's incumbent would leave b unserved; serving both comes first.
  Candidate current = model("a_current", 0.9, 10, 800);
  current.current = true;
  Problem p = vehicle(
      {app("a", {current, model("a_small", 0.6, 10, 200)}), app("b", {model("b1", 0.7, 10, 500)})},
      1000);
  p.hysteresis = 0.5;
  const Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "a_small");
  EXPECT_EQ(chosen_id(p, s, 1), "b1");
}

TEST(Solver, HysteresisWeighsTheVehicleAsAWhole) {
  // At 10 Hz, utilization = bound / 100. a_new fits only beside b_small (0.5 + 0.3), so
  // taking it means switching both applications and giving up two bonuses of 0.01.
  auto problem = [](double a_new_accuracy) {
    Candidate a_cur = model("a_cur", 0.70, 20);
    Candidate b_cur = model("b_cur", 0.80, 60);
    a_cur.current = b_cur.current = true;
    Problem p = vehicle({app("a", {a_cur, model("a_new", a_new_accuracy, 50)}, 100, 10),
                         app("b", {b_cur, model("b_small", 0.78, 30)}, 100, 10)});
    p.hysteresis = 0.01;
    return p;
  };
  // Net gain 0.04 - 0.02 = 0.02, exactly the two bonuses: keep both.
  Problem p = problem(0.74);
  Solution s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "a_cur");
  EXPECT_EQ(chosen_id(p, s, 1), "b_cur");
  EXPECT_EQ(rejection_of(p, s, 0, "a_new").code, RejectCode::kJointUtilization);
  // Net gain 0.03 > 0.02: switch both.
  p = problem(0.75);
  s = solve(p);
  EXPECT_EQ(chosen_id(p, s, 0), "a_new");
  EXPECT_EQ(chosen_id(p, s, 1), "b_small");
}

TEST(Solver, ExplainOffKeepsCodesAndDropsText) {
  const Problem p = vehicle({app("cam", {model("small", 0.70, 20), model("big", 0.80, 150)})});
  const Solution s = solve(p, {.explain = false});
  EXPECT_EQ(chosen_id(p, s, 0), "small");
  EXPECT_EQ(s.apps[0].rejected[0].code, RejectCode::kDeadline);
  EXPECT_TRUE(s.apps[0].rejected[0].reason.empty());
  EXPECT_TRUE(s.apps[0].reason.empty());
}

TEST(Solver, RejectsMalformedInput) {
  auto bad = [](auto mutate) {
    Problem p = vehicle({app("cam", {model("m", 0.7, 10)})});
    mutate(p);
    return p;
  };
  EXPECT_THROW(solve(bad([](Problem& p) { p.apps[0].candidates[0].accuracy = 1.5; })), Error);
  EXPECT_THROW(solve(bad([](Problem& p) { p.apps[0].candidates[0].bound_ms = NAN; })), Error);
  EXPECT_THROW(solve(bad([](Problem& p) { p.apps[0].candidates[0].memory_mb = -1; })), Error);
  EXPECT_THROW(solve(bad([](Problem& p) { p.apps[0].candidates[0].model_id = ""; })), Error);
  EXPECT_THROW(solve(bad([](Problem& p) { p.apps[0].batch = 0; })), Error);
  EXPECT_THROW(solve(bad([](Problem& p) { p.apps[0].rate_hz = -1; })), Error);
  EXPECT_THROW(solve(bad([](Problem& p) { p.utilization_cap = 0; })), Error);
  EXPECT_THROW(solve(bad([](Problem& p) { p.hysteresis = -0.1; })), Error);
  EXPECT_THROW(solve(bad([](Problem& p) {
                 p.apps[0].candidates.push_back(model("n", 0.6, 10));
                 p.apps[0].candidates[0].current = p.apps[0].candidates[1].current = true;
               })),
               Error);
  try {
    solve(bad([](Problem& p) { p.apps[0].candidates[0].accuracy = 75; }));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "assignment app cam model m: accuracy must be in [0, 1]");
  }
}

// ---- exhaustive check -------------------------------------------------------------------

// The objective as documented, computed independently of the solver: quantized sums compared
// lexicographically, then model ids in application order ("" = none sorts last).
struct Evaluated {
  bool feasible = false;
  std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t> key;
  std::vector<std::string> ids;
};

std::int64_t q(double v, double quanta) { return std::llround(v * quanta); }

bool alone_ok(const Problem& p, const AppProblem& a, const Candidate& c) {
  return c.bound_ms <= a.deadline_ms && c.accuracy >= a.min_accuracy &&
         (c.installed || c.download_s <= a.download_budget_s) &&
         q(utilization(a.rate_hz, a.batch, c.bound_ms), 1e9) <= q(p.utilization_cap, 1e9) &&
         q(c.memory_mb, 1e6) <= q(p.memory_budget_mb, 1e6);
}

Evaluated evaluate(const Problem& p, const std::vector<int>& pick) {
  Evaluated e;
  std::int64_t served = 0, accuracy = 0, kept = 0, power = 0, bytes = 0, u = 0, m = 0;
  for (std::size_t a = 0; a < p.apps.size(); ++a) {
    if (pick[a] < 0) {
      e.ids.push_back("\x7f");
      continue;
    }
    const AppProblem& app = p.apps[a];
    const Candidate& c = app.candidates[pick[a]];
    if (!alone_ok(p, app, c)) return e;
    ++served;
    accuracy += q(c.accuracy, 1e6) + (c.current ? q(p.hysteresis, 1e6) : 0);
    kept += c.current ? 1 : 0;
    power += q(app.rate_hz / app.batch * c.energy_j, 1e6);
    bytes += c.installed ? 0 : c.size_bytes;
    u += q(utilization(app.rate_hz, app.batch, c.bound_ms), 1e9);
    m += q(c.memory_mb, 1e6);
    e.ids.push_back(c.model_id);
  }
  if (u > q(p.utilization_cap, 1e9) || m > q(p.memory_budget_mb, 1e6)) return e;
  e.feasible = true;
  e.key = {served, accuracy, kept, -power, -bytes};
  return e;
}

std::vector<int> brute_force(const Problem& p) {
  std::vector<int> pick(p.apps.size(), -1), best;
  Evaluated best_e;
  while (true) {
    const Evaluated e = evaluate(p, pick);
    if (e.feasible &&
        (!best_e.feasible || e.key > best_e.key || (e.key == best_e.key && e.ids < best_e.ids))) {
      best_e = e;
      best = pick;
    }
    std::size_t a = 0;
    for (; a < p.apps.size(); ++a) {
      if (++pick[a] < static_cast<int>(p.apps[a].candidates.size())) break;
      pick[a] = -1;
    }
    if (a == p.apps.size()) return best;
  }
}

// The instance, for failure messages.
std::string dump(const Problem& p) {
  std::ostringstream out;
  out << "cap " << p.utilization_cap << " memory " << p.memory_budget_mb << " hysteresis "
      << p.hysteresis << "\n";
  for (const AppProblem& a : p.apps) {
    out << " app " << a.id << " deadline " << a.deadline_ms << " rate " << a.rate_hz << " batch "
        << a.batch << " floor " << a.min_accuracy << " budget " << a.download_budget_s << "\n";
    for (const Candidate& c : a.candidates) {
      out << "  " << c.model_id << " acc " << c.accuracy << " bound " << c.bound_ms << " mem "
          << c.memory_mb << " dl " << c.download_s << " size " << c.size_bytes << " energy "
          << c.energy_j << (c.installed ? " installed" : "") << (c.current ? " current" : "")
          << "\n";
    }
  }
  return out.str();
}

// Random instances on coarse grids, so that exact ties and constraints met with equality are
// common, with shared model ids across applications, installed and current models.
Problem random_problem(std::mt19937& rng, int max_apps, int max_candidates) {
  auto pick = [&rng](std::initializer_list<double> xs) {
    return *(xs.begin() + std::uniform_int_distribution<std::size_t>(0, xs.size() - 1)(rng));
  };
  auto chance = [&rng](double p) { return std::bernoulli_distribution(p)(rng); };
  Problem p;
  p.utilization_cap = pick({0.5, 0.9, 1.0});
  p.memory_budget_mb = pick({300, 500, 800, 2000});
  p.hysteresis = pick({0, 0, 0.02, 0.05});
  const int n_apps = std::uniform_int_distribution<int>(1, max_apps)(rng);
  for (int a = 0; a < n_apps; ++a) {
    AppProblem app;
    app.id = std::string("app").append(std::to_string(a));
    app.deadline_ms = pick({50, 100, 200, kNoLimit});
    app.rate_hz = pick({0, 1, 5, 10, 20});
    app.batch = static_cast<std::uint32_t>(pick({1, 1, 2, 4}));
    app.min_accuracy = pick({0, 0.6, 0.7});
    app.download_budget_s = pick({5, 20, kNoLimit});
    const int n = std::uniform_int_distribution<int>(0, max_candidates)(rng);
    bool has_current = false;
    for (int i = 0; i < n; ++i) {
      Candidate c;
      c.model_id = std::string("m").append(
          std::to_string(std::uniform_int_distribution<int>(0, max_candidates + 4)(rng)));
      c.accuracy = pick({0.55, 0.65, 0.7, 0.72, 0.75, 0.8});
      c.bound_ms = pick({5, 10, 20, 40, 50, 80, 100, 150});
      c.point_ms = c.bound_ms / 2;
      c.memory_mb = pick({50, 100, 150, 250, 400});
      c.size_bytes = static_cast<std::uint64_t>(pick({5e6, 20e6, 100e6}));
      c.installed = chance(0.2);
      c.download_s = c.installed ? 0 : pick({1, 5, 30});
      c.energy_j = pick({0.1, 0.2, 0.5});
      c.current = !has_current && chance(0.2);
      has_current = has_current || c.current;
      app.candidates.push_back(c);
    }
    p.apps.push_back(app);
  }
  return p;
}

TEST(SolverProperty, MatchesExhaustiveEnumerationAndExplainsConsistently) {
  std::mt19937 rng(20240611);
  int joint_rounds = 0, hysteresis_rounds = 0, none_rounds = 0;
  for (int round = 0; round < 6000; ++round) {
    // Many small instances (up to 4 applications), fewer with more candidates, a few with
    // enough options per application to exercise block skipping and long LP hulls.
    const Problem p = round % 50 == 49 ? random_problem(rng, 3, 30)
                      : round % 3 == 2 ? random_problem(rng, 3, 12)
                                       : random_problem(rng, 4, 5);
    const std::vector<int> expected = brute_force(p);
    const Solution s = solve(p);
    ASSERT_EQ(s.apps.size(), p.apps.size());
    std::vector<int> got;
    for (const AppSolution& a : s.apps) got.push_back(a.chosen ? static_cast<int>(*a.chosen) : -1);
    // Duplicate ids with identical figures are interchangeable; compare the evaluation.
    const Evaluated want_e = evaluate(p, expected), got_e = evaluate(p, got);
    ASSERT_TRUE(got_e.feasible) << "round " << round << "\n" << dump(p);
    ASSERT_EQ(got_e.key, want_e.key) << "round " << round << "\n" << dump(p);
    ASSERT_EQ(got_e.ids, want_e.ids) << "round " << round << "\n" << dump(p);
    bool joint = false, hysteresis = false, none = false;

    // Every other candidate is rejected exactly once with the code the definitions give.
    std::int64_t used_u = 0, used_m = 0;
    for (std::size_t a = 0; a < p.apps.size(); ++a) {
      if (got[a] < 0) continue;
      const AppProblem& app = p.apps[a];
      const Candidate& c = app.candidates[got[a]];
      used_u += q(utilization(app.rate_hz, app.batch, c.bound_ms), 1e9);
      used_m += q(c.memory_mb, 1e6);
    }
    for (std::size_t a = 0; a < p.apps.size(); ++a) {
      const AppProblem& app = p.apps[a];
      ASSERT_EQ(s.apps[a].rejected.size() + (got[a] >= 0 ? 1 : 0), app.candidates.size());
      EXPECT_FALSE(s.apps[a].reason.empty());
      none = none || got[a] < 0;
      std::int64_t own_u = 0, own_m = 0;
      if (got[a] >= 0) {
        own_u = q(utilization(app.rate_hz, app.batch, app.candidates[got[a]].bound_ms), 1e9);
        own_m = q(app.candidates[got[a]].memory_mb, 1e6);
      }
      for (const Rejection& r : s.apps[a].rejected) {
        ASSERT_NE(static_cast<int>(r.candidate), got[a]);
        const Candidate& c = app.candidates[r.candidate];
        EXPECT_FALSE(r.reason.empty());
        joint =
            joint || r.code == RejectCode::kJointUtilization || r.code == RejectCode::kJointMemory;
        hysteresis = hysteresis || r.code == RejectCode::kHysteresis;
        if (!alone_ok(p, app, c)) {
          EXPECT_TRUE(r.code == RejectCode::kDeadline || r.code == RejectCode::kAccuracyFloor ||
                      r.code == RejectCode::kDownload || r.code == RejectCode::kUtilization ||
                      r.code == RejectCode::kMemory)
              << code_name(r.code);
          continue;
        }
        const std::int64_t u = q(utilization(app.rate_hz, app.batch, c.bound_ms), 1e9);
        const std::int64_t m = q(c.memory_mb, 1e6);
        if (used_u - own_u + u > q(p.utilization_cap, 1e9)) {
          EXPECT_EQ(r.code, RejectCode::kJointUtilization);
        } else if (used_m - own_m + m > q(p.memory_budget_mb, 1e6)) {
          EXPECT_EQ(r.code, RejectCode::kJointMemory);
        } else {
          ASSERT_GE(got[a], 0);
          const Candidate& ch = app.candidates[got[a]];
          EXPECT_EQ(r.code, ch.current && c.accuracy > ch.accuracy ? RejectCode::kHysteresis
                                                                   : RejectCode::kLowerAccuracy);
        }
      }
    }
    joint_rounds += joint;
    hysteresis_rounds += hysteresis;
    none_rounds += none;
  }
  // The generator must exercise the interesting cases, not only easy ones.
  EXPECT_GT(joint_rounds, 200);
  EXPECT_GT(hysteresis_rounds, 20);
  EXPECT_GT(none_rounds, 200);
}

}  // namespace
}  // namespace fleetml::assignment
