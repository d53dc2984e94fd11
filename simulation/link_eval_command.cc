// fleet-sim link-eval: the conservative download-time predictor against DIGA's mean rule on
// real traces.

#include <nlohmann/json.hpp>

#include "simulation/commands.h"
#include "simulation/report/link_eval.h"

namespace fleetml::sim {
namespace {

int run(const cli::Args& args) {
  LinkEvalOptions options;
  const std::int64_t cases = args.integer("cases");
  const std::int64_t seed = args.integer("seed");
  if (cases < 1 || seed < 0) throw cli::UsageError("--cases must be >= 1 and --seed >= 0");
  options.cases = static_cast<std::size_t>(cases);
  options.seed = static_cast<std::uint64_t>(seed);
  options.history_s = args.num("history");
  options.min_bytes = args.num("min-mb") * 1e6;
  options.max_bytes = args.num("max-mb") * 1e6;
  const LinkEval eval = evaluate_link_predictors(load_scenarios(args.str("traces")), options);
  return print_result(args, to_json(eval), format_text(eval));
}

const CommandRegistration registration({
    "link-eval",
    "compare download-time predictors (conservative vs mean) on replayed traces",
    [](cli::Parser& p) {
      p.option("traces", "DIR", "trace folder with one sub-folder per scenario", "data/traces")
          .option("cases", "N", "random cases per scenario", "1000")
          .option("history", "S", "seconds of link samples known before each download", "300")
          .option("min-mb", "MB", "smallest artifact (sizes are log-uniform)", "1")
          .option("max-mb", "MB", "largest artifact", "550")
          .option("seed", "K", "seed of the random cases", "1")
          .flag("json", "machine-readable output");
    },
    run,
});

}  // namespace
}  // namespace fleetml::sim
