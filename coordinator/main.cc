// fleet-coordinator: the cloud side of fleetml (docs/protocol.md).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "coordinator/service/coordinator.h"
#include "coordinator/service/latency_service.h"
#include "shared/common/cli.h"
#include "shared/common/clock.h"
#include "shared/common/error.h"
#include "shared/common/log.h"
#include "shared/transport/broker_options.h"

namespace {

using namespace fleetml;

std::atomic<bool> stop_requested{false};

int run(const cli::Args& args) {
  coordinator::CoordinatorOptions options;
  options.mqtt = transport::client_options(args, args.str("client-id"));
  options.prefix = transport::topics(args).prefix();
  options.data_dir = args.str("data-dir");
  options.keys_dir =
      args.has("keys") ? std::filesystem::path(args.str("keys")) : options.data_dir / "keys";
  options.planner.utilization_cap = args.num_in("utilization-cap", 0.01, 1);
  options.planner.trials = args.flag("trials");
  options.planner.hysteresis = args.num_in("hysteresis", 0, 1);
  options.assignment_ttl = std::chrono::seconds(
      static_cast<long long>(args.num_in("assignment-ttl", 60, 365 * 86400.0)));
  options.link_history =
      std::chrono::seconds(static_cast<long long>(args.num_in("link-history", 10, 86400)));
  if (!std::filesystem::exists(options.keys_dir / "release.key")) {
    throw Error("no signing keys in " + options.keys_dir.string() +
                " (create them with: fleetctl keys init " + options.keys_dir.string() + ")");
  }
  std::filesystem::create_directories(options.data_dir);

  const auto clock = cli::clock_from_args(args);
  coordinator::LatencyServiceOptions latency_options;
  latency_options.estimator = args.str("estimator");
  latency_options.llm.url = args.str("llm-url");
  latency_options.llm.model = args.str("llm-model");
  // The Coordinator feeds the stored measurements in when it loads its state.
  coordinator::LatencyService latency(latency_options, {});
  coordinator::Coordinator service(options, *clock, latency);

  std::signal(SIGINT, [](int) { stop_requested = true; });
  std::signal(SIGTERM, [](int) { stop_requested = true; });
  try {
    service.start([] { return !stop_requested; });
  } catch (const Error&) {
    if (!stop_requested) throw;
    log::info("coordinator", "stopped before the broker could be reached", {});
    return 0;
  }
  while (!stop_requested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  log::info("coordinator", "stopping", {});
  service.stop();
  const auto stats = service.stats();
  log::info("coordinator", "stopped",
            {{"ingested", stats.ingested},
             {"rejected", stats.rejected},
             {"plans", stats.plans},
             {"published", stats.published},
             {"chunk_bytes", stats.chunks.bytes}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Command command;
  command.summary = "ingest vehicle reports, plan and sign assignments, serve model artifacts";
  command.declare = [](cli::Parser& p) {
    p.option("data-dir", "DIR", "database (fleet.db), content store and staging area",
             "fleetml-data");
    p.option("keys", "DIR", "release and coordinator keys (fleetctl keys init); default DATA/keys");
    p.option("estimator", "NAME", "latency estimator: roofline, flops, learned or llm", "roofline");
    p.option("llm-url", "URL", "--estimator llm: Ollama-style server (POST URL/api/generate)",
             "http://127.0.0.1:11434");
    p.option("llm-model", "NAME", "--estimator llm: model the server runs", "mistral");
    p.option("utilization-cap", "U", "share of a vehicle's compute unit models may use", "0.9");
    p.flag("trials",
           "let an application no bound serves run a never-measured model whose point estimate "
           "meets its deadline, flagged trial, until its measurement decides (docs/assignment.md)");
    p.option("hysteresis", "ACC", "top-1 gain needed to replace a still-feasible model", "0.01");
    p.option("assignment-ttl", "S", "assignment lifetime in seconds (refreshed at half-life)",
             "86400");
    p.option("link-history", "S", "seconds of link samples behind download predictions", "600");
    p.option("client-id", "ID", "MQTT client id of the persistent session", "fleet-coordinator");
    cli::add_time_options(p);
    transport::add_broker_options(p);
  };
  command.run = run;
  return cli::run_program("fleet-coordinator",
                          "the cloud side of fleetml: catalog, estimation, assignment, delivery",
                          {command}, argc, argv);
}
