// fleet-vehicle smoke --model FILE.pt --input SHAPE [--threads N] [--no-optimize]: the
// install-time check on its own. `run` executes it in a child process for every new model, so
// a model that crashes LibTorch fails its install instead of killing the agent.
#include "shared/common/error.h"
#include "vehicle_client/commands.h"

namespace fleetml::vehicle {
namespace {

int run_smoke(const cli::Args& args) {
  model::Shape input;
  try {
    input = model::parse_shape(args.str("input"));
  } catch (const Error& e) {
    throw cli::UsageError(std::string("--input: ") + e.what());
  }
  runtime::smoke_test(args.str("model"), input, runtime_config(args));
  return 0;
}

[[maybe_unused]] const bool kRegistered = register_command(
    {"smoke", "load a model and run one inference on zeros (exit 0 when it works)",
     [](cli::Parser& p) {
       p.required("model", "FILE.pt", "TorchScript model file")
           .required("input", "SHAPE", "input shape of one sample, e.g. 1x3x224x224");
       declare_runtime_options(p);
     },
     run_smoke});

}  // namespace
}  // namespace fleetml::vehicle
