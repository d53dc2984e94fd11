// fleetctl watch | explain VID: the fleet as the MQTT topics show it.

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "shared/common/error.h"
#include "shared/messages/json.h"
#include "shared/transport/broker_options.h"
#include "tools/fleetctl/commands.h"
#include "tools/fleetctl/fleet_view.h"
#include "tools/fleetctl/operator_session.h"

namespace fleetml::fleetctl {
namespace {

using messages::TopicKind;
using Clock = std::chrono::steady_clock;

std::atomic<bool> interrupted{false};

std::chrono::milliseconds seconds_option(const cli::Args& args, const char* name) {
  const double s = args.num(name);
  if (!(s > 0 && s <= 86400))
    throw cli::UsageError(std::string("--") + name + " must be in (0, 86400]");
  return std::chrono::milliseconds(static_cast<long long>(s * 1000));
}

int run_watch(const cli::Args& args) {
  const auto interval = seconds_option(args, "interval");
  const auto settle = seconds_option(args, "settle");
  const bool once = args.flag("once");
  const bool json = args.flag("json");
  OperatorSession session(args);
  FleetView view(session.topics());
  std::mutex mutex;
  auto last_message = Clock::now();
  for (TopicKind kind : {TopicKind::kCapability, TopicKind::kStatus, TopicKind::kAssignment,
                         TopicKind::kLink, TopicKind::kReport}) {
    session.client().subscribe(session.topics().filter(kind), 0, [&](const transport::Message& m) {
      std::lock_guard lock(mutex);
      view.apply(m.topic, m.payload);
      last_message = Clock::now();
    });
  }
  std::signal(SIGINT, [](int) { interrupted = true; });
  std::signal(SIGTERM, [](int) { interrupted = true; });
  const auto started = Clock::now();
  const bool tty = isatty(STDOUT_FILENO) != 0;
  auto print = [&] {
    std::lock_guard lock(mutex);
    if (json) {
      std::cout << view.to_json().dump(once ? 2 : -1) << std::endl;
    } else {
      if (tty && !once) std::cout << "\x1b[H\x1b[2J";
      std::cout << view.table() << std::flush;
    }
  };
  if (once) {
    // Retained messages arrive in a burst right after subscribing; print once it is over.
    while (!interrupted) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::lock_guard lock(mutex);
      const auto now = Clock::now();
      if (now - last_message >= settle && now - started >= settle) break;
    }
    print();
    return 0;
  }
  while (!interrupted) {
    print();
    for (auto slept = std::chrono::milliseconds(0); slept < interval && !interrupted;
         slept += std::chrono::milliseconds(100)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return 0;
}

int run_explain(const cli::Args& args) {
  const std::string& vehicle = args.positionals().at(0);
  if (!messages::is_valid_id(vehicle)) throw cli::UsageError("invalid vehicle id: " + vehicle);
  const auto timeout = seconds_option(args, "timeout");
  OperatorSession session(args);
  std::mutex mutex;
  std::optional<v1::AssignmentBody> body;
  session.client().subscribe(
      session.topics().assignment(vehicle), 1, [&](const transport::Message& m) {
        v1::Assignment signed_;
        v1::AssignmentBody parsed;
        if (!signed_.ParseFromString(m.payload) || !parsed.ParseFromString(signed_.body())) {
          return;
        }
        std::lock_guard lock(mutex);
        body = std::move(parsed);
      });
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    {
      std::lock_guard lock(mutex);
      if (body) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::lock_guard lock(mutex);
  if (!body) {
    throw Error("no assignment published for vehicle " + vehicle +
                " (unknown vehicle, or no coordinator on this broker and prefix)");
  }
  if (args.flag("json")) {
    std::cout << messages::to_json(*body) << "\n";
  } else {
    std::cout << explain(*body);
  }
  return 0;
}

}  // namespace

std::vector<cli::Command> watch_commands() {
  cli::Command watch;
  watch.name = "watch";
  watch.summary = "live table of vehicles, applications, assigned models, latency, link, transfers";
  watch.declare = [](cli::Parser& p) {
    p.flag("once", "print the table once the retained state has arrived, then exit");
    p.flag("json", "print the fleet state as JSON (one document per refresh)");
    p.option("interval", "S", "seconds between refreshes", "1");
    p.option("settle", "S", "--once: quiet time that ends the retained burst", "0.5");
    transport::add_broker_options(p);
  };
  watch.run = run_watch;

  cli::Command explain_cmd;
  explain_cmd.name = "explain";
  explain_cmd.summary = "why a vehicle got its models: choices, predictions, rejected alternatives";
  explain_cmd.declare = [](cli::Parser& p) {
    p.positional("VID", "vehicle id");
    p.flag("json", "print the assignment as JSON");
    p.option("timeout", "S", "seconds to wait for the retained assignment", "5");
    transport::add_broker_options(p);
  };
  explain_cmd.run = run_explain;
  return {watch, explain_cmd};
}

}  // namespace fleetml::fleetctl
