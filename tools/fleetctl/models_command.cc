// fleetctl models add|list: the running coordinator's catalog, over the ops/catalog topics.

#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/sha256.h"
#include "shared/model/model_profile.h"
#include "shared/transport/broker_options.h"
#include "tools/fleetctl/commands.h"
#include "tools/fleetctl/operator_session.h"

namespace fleetml::fleetctl {
namespace {

constexpr std::size_t kPartBytes = 256 * 1024;
constexpr std::size_t kWindowParts = 8;
constexpr auto kReplyTimeout = std::chrono::seconds(30);

double parse_top1(const cli::Args& args) {
  const double value = args.num("top1");
  // Accepted as a fraction (0.7176) or a percentage (71.76), as papers print both.
  const double fraction = value > 1 ? value / 100 : value;
  if (!(fraction > 0 && fraction <= 1)) {
    throw cli::UsageError("--top1 must be in (0, 1] or a percentage in (1, 100]");
  }
  return fraction;
}

v1::CatalogReply checked(v1::CatalogReply reply) {
  if (!reply.ok()) throw Error("coordinator refused: " + reply.error());
  return reply;
}

int run_add(const cli::Args& args) {
  const std::filesystem::path file = args.positionals().at(0);
  model::Shape input;
  try {
    input = model::parse_shape(args.str("input"));
  } catch (const Error& e) {
    throw cli::UsageError(std::string("--input: ") + e.what());
  }
  const double top1 = parse_top1(args);
  const crypto::FileDigest digest = crypto::sha256_file(file);
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot read " + file.string());

  OperatorSession session(args);
  v1::ModelUpload header;
  header.set_upload_id(crypto::to_hex(digest.sha256).substr(0, 16) + "-" + args.str("id"));
  header.set_model_id(args.str("id"));
  header.set_task(args.str("task"));
  header.set_accuracy(top1);
  for (auto d : input) header.add_input_shape(d);
  header.set_total_size(digest.size_bytes);
  header.set_sha256(crypto::to_hex(digest.sha256));

  // Parts go out in a window (the broker keeps them in order, the coordinator appends them
  // in order); each acknowledgement says how many contiguous bytes the coordinator holds.
  std::string buffer(kPartBytes, '\0');
  std::deque<std::string> in_flight;
  std::uint64_t next_offset = 0;
  v1::CatalogReply reply;
  int last_percent = -1;
  bool first = true;
  do {
    while (in_flight.size() < kWindowParts && (first || next_offset < digest.size_bytes)) {
      first = false;
      in.seekg(static_cast<std::streamoff>(next_offset));
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto length = static_cast<std::size_t>(in.gcount());
      in.clear();
      v1::CatalogRequest request;
      *request.mutable_upload() = header;
      request.mutable_upload()->set_offset(next_offset);
      request.mutable_upload()->set_data(buffer.data(), length);
      in_flight.push_back(session.send(std::move(request)));
      next_offset += length;
    }
    reply = checked(session.wait(in_flight.front(), kReplyTimeout));
    in_flight.pop_front();
    const std::uint64_t held = reply.received_bytes();
    const int percent =
        digest.size_bytes == 0 ? 100 : static_cast<int>(100 * held / digest.size_bytes);
    if (percent / 10 != last_percent / 10) {
      std::fprintf(stderr, "models add: %s %3d%% (%llu of %llu bytes)\n", header.model_id().c_str(),
                   percent, static_cast<unsigned long long>(held),
                   static_cast<unsigned long long>(digest.size_bytes));
      last_percent = percent;
    }
  } while (!reply.done());

  const nlohmann::json entry = nlohmann::json::parse(reply.json());
  if (args.flag("json")) {
    std::cout << entry.dump(2) << "\n";
  } else {
    std::printf("%s %s v%llu  %.3f GFLOPs  %.1f MB  sha256 %s\n",
                entry.value("created", false) ? "registered" : "already registered",
                entry.value("id", "").c_str(),
                static_cast<unsigned long long>(entry.value("version", 0ULL)),
                entry.value("flops", 0.0) / 1e9, entry.value("size_bytes", 0.0) / 1e6,
                entry.value("sha256", "").substr(0, 16).c_str());
  }
  return 0;
}

int run_list(const cli::Args& args) {
  OperatorSession session(args);
  v1::CatalogRequest request;
  request.mutable_list();
  const auto reply = checked(session.call(std::move(request), kReplyTimeout));
  const nlohmann::json models = nlohmann::json::parse(reply.json());
  if (args.flag("json")) {
    std::cout << models.dump(2) << "\n";
    return 0;
  }
  std::printf("%-22s %4s %-22s %7s %-14s %9s %8s %9s %6s\n", "model", "ver", "task", "top1",
              "input", "GFLOPs", "MB", "Mparams", "depth");
  for (const auto& m : models) {
    model::Shape shape = m.value("input_shape", model::Shape{});
    std::printf(
        "%-22s %4llu %-22s %6.2f%% %-14s %9.3f %8.1f %9.2f %6lld\n", m.value("id", "").c_str(),
        static_cast<unsigned long long>(m.value("version", 0ULL)), m.value("task", "").c_str(),
        100 * m.value("accuracy", 0.0), model::format_shape(shape).c_str(),
        m.value("flops", 0.0) / 1e9, m.value("size_bytes", 0.0) / 1e6, m.value("params", 0.0) / 1e6,
        static_cast<long long>(m.value("depth", 0LL)));
  }
  if (models.empty()) std::printf("(no models registered; see fleetctl models add --help)\n");
  return 0;
}

}  // namespace

std::vector<cli::Command> models_commands() {
  cli::Command add;
  add.name = "models add";
  add.summary = "register a TorchScript model with the running coordinator";
  add.declare = [](cli::Parser& p) {
    p.positional("FILE", "TorchScript artifact (.pt)");
    p.required("id", "ID", "catalog id, e.g. resnet18 (letters, digits, '-', '_', '.')");
    p.required("task", "TASK", "what it does, e.g. image-classification");
    p.required("top1", "ACC", "top-1 accuracy: a fraction (0.6976) or a percentage (69.76)");
    p.option("input", "SHAPE", "input shape at batch 1", "1x3x224x224");
    p.flag("json", "print the registered entry as JSON");
    transport::add_broker_options(p);
  };
  add.run = run_add;

  cli::Command list;
  list.name = "models list";
  list.summary = "print the coordinator's catalog";
  list.declare = [](cli::Parser& p) {
    p.flag("json", "print JSON");
    transport::add_broker_options(p);
  };
  list.run = run_list;
  return {add, list};
}

}  // namespace fleetml::fleetctl
