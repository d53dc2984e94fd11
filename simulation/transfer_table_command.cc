// fleet-sim transfer-table: DIGA's transfer-time table beside replayed download times.

#include <nlohmann/json.hpp>

#include "simulation/commands.h"
#include "simulation/report/transfer_table.h"
#include "simulation/report/zoo.h"

namespace fleetml::sim {
namespace {

int run(const cli::Args& args) {
  const std::int64_t seed = args.integer("seed");
  const std::int64_t draws = args.integer("draws");
  if (seed < 0 || draws < 1) throw cli::UsageError("--seed must be >= 0 and --draws >= 1");
  const auto models_dir =
      args.has("models") ? std::filesystem::path(args.str("models")) : default_zoo_dir();
  const std::vector<ZooModel> models = list_zoo_models(models_dir, args.str("catalog"));
  if (models.empty()) throw Error("models " + models_dir.string() + ": no *.pt artifacts");
  const TransferTable table =
      transfer_table(models, load_scenarios(args.str("traces")), static_cast<std::uint64_t>(seed),
                     static_cast<std::size_t>(draws));
  return print_result(args, to_json(table), format_text(table));
}

const CommandRegistration registration({
    "transfer-table",
    "each zoo model's transfer time at DIGA's mean 4G/5G rates and replayed on real traces",
    [](cli::Parser& p) {
      p.option("models", "DIR",
               "directory of <id>.pt artifacts (default: $FLEETML_ZOO_DIR or "
               "~/.cache/fleetml/zoo)")
          .option("catalog", "FILE", "zoo catalog with ids and names; every *.pt if missing",
                  "data/zoo.json")
          .option("traces", "DIR", "trace folder with one sub-folder per scenario", "data/traces")
          .option("seed", "K", "seed of the random start offsets", "1")
          .option("draws", "N", "random start offsets per scenario", "200")
          .flag("json", "machine-readable output");
    },
    run,
});

}  // namespace
}  // namespace fleetml::sim
