#include "simulation/fleet/fleet.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "shared/common/error.h"
#include "shared/common/log.h"
#include "shared/crypto/key_dir.h"
#include "vehicle_client/agent/agent.h"

namespace fleetml::sim {
namespace {

namespace fs = std::filesystem;
constexpr const char* kLog = "fleet-sim";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Scenarios of the profile's network type ("4G" -> "4g-static", "4g-driving"); every
// scenario when none matches.
std::vector<const Scenario*> scenarios_for(const DeviceProfile& profile,
                                           const std::vector<Scenario>& scenarios) {
  std::vector<const Scenario*> out;
  const std::string prefix = lower(profile.network_type) + "-";
  for (const Scenario& s : scenarios) {
    if (s.name.starts_with(prefix)) out.push_back(&s);
  }
  if (out.empty()) {
    for (const Scenario& s : scenarios) out.push_back(&s);
  }
  return out;
}

double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kb = 0;
      status >> kb;
      return kb / 1024;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0;
}

// Records, from the MQTT traffic, what happened to every vehicle (Paho's callback thread
// writes, the run loop reads).
class Observer {
 public:
  Observer(const FleetOptions& options, std::vector<VehicleOutcome>& vehicles)
      : topics_(options.topics), vehicles_(vehicles) {
    for (std::size_t i = 0; i < vehicles_.size(); ++i) index_[vehicles_[i].id] = i;
    transport::ClientOptions mqtt = options.mqtt;
    mqtt.client_id = "fleet-sim-observer-" + std::to_string(options.seed);
    mqtt.clean_start = true;
    mqtt.session_expiry = std::chrono::seconds(0);
    client_ = std::make_unique<transport::MqttClient>(mqtt);
    using messages::TopicKind;
    for (TopicKind kind : {TopicKind::kAssignment, TopicKind::kReport, TopicKind::kManifest}) {
      client_->subscribe(topics_.filter(kind), 1,
                         [this](const transport::Message& m) { on_message(m); });
    }
    client_->connect();
  }

  template <typename F>
  auto read(F f) {
    std::lock_guard lock(mutex_);
    return f(vehicles_, manifests_);
  }

 private:
  void on_message(const transport::Message& m) {
    const auto topic = topics_.parse(m.topic);
    if (!topic) return;
    std::lock_guard lock(mutex_);
    if (topic->kind == messages::TopicKind::kManifest) {
      v1::Manifest manifest;
      v1::ManifestBody body;
      if (manifest.ParseFromString(m.payload) && body.ParseFromString(manifest.body())) {
        manifests_[body.model_id()] = body;
      }
      return;
    }
    const auto vehicle = index_.find(topic->id);
    if (vehicle == index_.end()) return;  // not one of this run's vehicles
    VehicleOutcome& v = vehicles_[vehicle->second];
    if (topic->kind == messages::TopicKind::kAssignment) {
      v1::Assignment assignment;
      v1::AssignmentBody body;
      if (assignment.ParseFromString(m.payload) && body.ParseFromString(assignment.body()) &&
          (!v.assignment || body.seq() >= v.assignment->seq())) {
        v.assignment = std::move(body);
      }
      return;
    }
    v1::Report report;
    if (!report.ParseFromString(m.payload)) return;
    const std::string app = report.application_id();
    if (report.kind() == v1::Report::INSTALLED) {
      v.installed[app] = std::move(report);
    } else if (report.kind() == v1::Report::REJECTED ||
               report.kind() == v1::Report::INSTALL_FAILED) {
      v.failed[app] = std::move(report);
    }
  }

  messages::Topics topics_;
  std::mutex mutex_;
  std::vector<VehicleOutcome>& vehicles_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, v1::ManifestBody> manifests_;
  std::unique_ptr<transport::MqttClient> client_;
};

// One simulated vehicle: its platform and agent.
struct Vehicle {
  std::unique_ptr<SimPlatform> platform;
  std::unique_ptr<vehicle::Agent> agent;
};

}  // namespace

std::vector<MixEntry> parse_mix(std::string_view spec) {
  std::vector<MixEntry> mix;
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    const std::size_t comma = std::min(spec.find(',', pos), spec.size());
    const std::string_view item = spec.substr(pos, comma - pos);
    const std::size_t colon = item.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      throw Error("mix: expected PROFILE:WEIGHT, got '" + std::string(item) + "'");
    }
    MixEntry entry{std::string(item.substr(0, colon)), 0};
    const std::string weight(item.substr(colon + 1));
    std::size_t used = 0;
    try {
      entry.weight = std::stod(weight, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != weight.size() || !(entry.weight > 0) || !std::isfinite(entry.weight)) {
      throw Error("mix: weight of '" + entry.profile + "' is not a positive number");
    }
    for (const MixEntry& e : mix) {
      if (e.profile == entry.profile) throw Error("mix: '" + entry.profile + "' given twice");
    }
    mix.push_back(std::move(entry));
    pos = comma + 1;
  }
  return mix;
}

std::vector<std::string> apportion(const std::vector<MixEntry>& mix, std::size_t n) {
  double total = 0;
  for (const MixEntry& e : mix) total += e.weight;
  std::vector<std::size_t> counts;
  std::vector<std::pair<double, std::size_t>> remainders;  // (remainder, index)
  std::size_t given = 0;
  for (std::size_t i = 0; i < mix.size(); ++i) {
    const double exact = static_cast<double>(n) * mix[i].weight / total;
    counts.push_back(static_cast<std::size_t>(std::floor(exact)));
    given += counts.back();
    remainders.emplace_back(exact - std::floor(exact), i);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; given < n; ++k, ++given) ++counts[remainders[k % mix.size()].second];
  std::vector<std::string> out;
  for (std::size_t i = 0; i < mix.size(); ++i) out.insert(out.end(), counts[i], mix[i].profile);
  return out;
}

std::vector<VehiclePlan> plan_fleet(const std::vector<MixEntry>& mix, std::size_t n,
                                    std::uint64_t seed,
                                    const std::map<std::string, SimulatedDevice>& devices,
                                    const std::vector<Scenario>& scenarios, double ramp_s) {
  Rng rng(seed);
  std::vector<VehiclePlan> plans;
  const std::vector<std::string> profiles = apportion(mix, n);
  for (std::size_t i = 0; i < profiles.size(); ++i) {
    const auto choices = scenarios_for(devices.at(profiles[i]).profile(), scenarios);
    const Scenario& scenario =
        *choices[std::uniform_int_distribution<std::size_t>(0, choices.size() - 1)(rng)];
    TraceLink link = TraceLink::at_random_point(scenario, rng);
    plans.push_back(VehiclePlan{"sim-" + std::to_string(i + 1) + "-" + profiles[i], profiles[i],
                                scenario.name, std::move(link), rng()});
  }
  if (ramp_s > 0) {
    std::uniform_real_distribution<double> join(0, ramp_s);
    for (VehiclePlan& plan : plans) plan.join_s = join(rng);
  }
  return plans;
}

bool VehicleOutcome::settled(const std::vector<v1::Application>& applications) const {
  if (!assignment) return false;
  for (const v1::Application& app : applications) {
    const auto& apps = assignment->applications();
    const auto a = std::find_if(apps.begin(), apps.end(), [&](const v1::AppAssignment& x) {
      return x.application_id() == app.id();
    });
    if (a == apps.end()) return false;
    if (a->model_id().empty()) continue;  // explicitly infeasible
    const auto matches = [&](const std::map<std::string, v1::Report>& reports) {
      const auto r = reports.find(app.id());
      return r != reports.end() && r->second.model_id() == a->model_id() &&
             r->second.model_version() == a->model_version();
    };
    if (!matches(installed) && !matches(failed)) return false;
  }
  return true;
}

FleetResult run_fleet(const FleetOptions& options,
                      const std::map<std::string, SimulatedDevice>& devices,
                      const std::vector<Scenario>& scenarios, const ModelStructures& models) {
  const auto real_start = std::chrono::steady_clock::now();
  const auto origin =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(options.time_origin_ms));
  const ScaledClock clock = simulated_clock(options.speed, origin);
  Scheduler scheduler(clock);
  const crypto::TrustedKeys keys = crypto::load_trusted_keys(options.trust_dir);

  FleetResult result;
  result.time_origin_ms = options.time_origin_ms;
  // A short queue: a longer one (1000) let 1000 vehicles downloading 10 MB request chunks
  // faster than this process takes them in (peak RSS 0.7-5.6 GB instead of 174 MB).
  const auto publisher = std::make_shared<transport::PublishThread>(64);
  std::vector<Vehicle> fleet;
  std::vector<Clock::Duration> joins;
  const Clock::TimePoint link_zero = clock.now();
  for (VehiclePlan& plan : plan_fleet(options.mix, options.vehicles, options.seed, devices,
                                      scenarios, options.ramp_s)) {
    joins.push_back(
        std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(plan.join_s)));
    const SimulatedDevice& device = devices.at(plan.profile);
    VehicleOutcome outcome;
    outcome.id = plan.id;
    outcome.profile = plan.profile;
    outcome.scenario = plan.scenario;
    outcome.trace = fs::path(plan.link.trace().name()).filename().string();
    outcome.link_offset_s = plan.link.offset_s();
    outcome.join_s = plan.join_s;
    result.vehicles.push_back(std::move(outcome));

    vehicle::AgentConfig config;
    config.vehicle_id = plan.id;
    config.data_dir = options.data_dir / config.vehicle_id;
    config.applications = options.applications;
    config.network_type = device.profile().network_type;
    config.nominal_downlink_kbps = device.profile().nominal_downlink_kbps;
    config.download.window_blocks = options.window_blocks;
    transport::ClientOptions mqtt = options.mqtt;
    mqtt.client_id = "vehicle-" + config.vehicle_id;
    // A run is a fresh fleet: no session (and no queued messages) from an earlier run.
    mqtt.clean_start = true;
    mqtt.session_expiry = std::chrono::seconds(0);
    mqtt.publisher = publisher;
    Vehicle v;
    v.platform = std::make_unique<SimPlatform>(device, std::move(plan.link), models, clock,
                                               link_zero, plan.platform_seed);
    v.agent = std::make_unique<vehicle::Agent>(std::move(config), *v.platform, keys,
                                               std::move(mqtt), options.topics, scheduler);
    fleet.push_back(std::move(v));
  }

  auto observer = std::make_unique<Observer>(options, result.vehicles);
  std::vector<vehicle::Agent*> agents;
  for (Vehicle& v : fleet) agents.push_back(v.agent.get());
  vehicle::Agent::start_all(agents, joins);
  scheduler.start();
  // Runs after every task the start queued (FIFO among due tasks): the start-up backlog.
  std::promise<Scheduler::LagStats> start_lag;
  scheduler.post([&] { start_lag.set_value(scheduler.take_lag()); });
  result.start_lag = start_lag.get_future().get();
  result.start_real_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - real_start).count();
  log::info(kLog, "fleet started",
            {{"vehicles", fleet.size()}, {"start_real_s", result.start_real_s}});

  const Clock::TimePoint sim_start = clock.now();
  const Clock::TimePoint sim_end =
      sim_start + std::chrono::duration_cast<Clock::Duration>(
                      std::chrono::duration<double>(options.duration_s));
  auto next_progress = std::chrono::steady_clock::now();
  while (clock.now() < sim_end) {
    const std::size_t settled = observer->read([&](const auto& vehicles, const auto&) {
      return static_cast<std::size_t>(
          std::count_if(vehicles.begin(), vehicles.end(),
                        [&](const auto& v) { return v.settled(options.applications); }));
    });
    if (std::chrono::steady_clock::now() >= next_progress) {
      log::info(kLog, "progress",
                {{"simulated_s", std::chrono::duration<double>(clock.now() - sim_start).count()},
                 {"settled", settled},
                 {"vehicles", fleet.size()},
                 {"lag_max_ms", scheduler.lag().max_ms}});
      next_progress += std::chrono::seconds(5);
    }
    if (options.until_settled && settled == fleet.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  result.simulated_s = std::chrono::duration<double>(clock.now() - sim_start).count();
  scheduler.stop();
  result.lag = scheduler.lag();
  result.publish_queue = publisher->stats();
  for (Vehicle& v : fleet) v.agent->stop(std::chrono::milliseconds(500));
  result.peak_rss_mb = peak_rss_mb();
  observer->read([&](const auto&, const auto& manifests) {
    result.manifests = manifests;
    return 0;
  });
  observer.reset();  // no more writes into result.vehicles
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    result.vehicles[i].downloads = fleet[i].platform->downloads();
  }
  fleet.clear();
  result.settled =
      std::all_of(result.vehicles.begin(), result.vehicles.end(),
                  [&](const VehicleOutcome& v) { return v.settled(options.applications); });
  result.real_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - real_start).count();
  return result;
}

}  // namespace fleetml::sim
