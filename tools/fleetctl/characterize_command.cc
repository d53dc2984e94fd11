// fleetctl characterize FILE.pt [--input SHAPE] [--json]: the catalog's characterization of
// any TorchScript file, without a coordinator.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "shared/characterization/characterization.h"
#include "shared/common/error.h"
#include "tools/fleetctl/commands.h"

namespace fleetml::fleetctl {
namespace {

std::string shapes_text(const std::vector<model::Shape>& shapes) {
  std::string out;
  for (const model::Shape& s : shapes) {
    if (!out.empty()) out += ",";
    out += model::format_shape(s);
  }
  return out;
}

void print_table(const model::ModelProfile& p) {
  std::printf("model       %s\n", p.name.c_str());
  std::printf("input       %s\n", model::format_shape(p.input_shape).c_str());
  std::printf("MACs        %.4f G (FLOPs %.4f G)\n", static_cast<double>(p.macs) / 1e9,
              static_cast<double>(p.flops) / 1e9);
  std::printf("params      %lld (%.1f MB)\n", static_cast<long long>(p.params),
              static_cast<double>(p.param_bytes) / 1e6);
  std::printf("file        %.1f MB\n", static_cast<double>(p.size_bytes) / 1e6);
  std::printf("depth       %lld conv/linear layers, %zu operators\n",
              static_cast<long long>(p.depth), p.layers.size());
  std::printf("peak act.   %.2f MB\n\n", static_cast<double>(p.peak_activation_bytes) / 1e6);
  std::printf("%4s  %-15s %-24s %-22s %12s %10s  %s\n", "#", "op", "aten", "output", "MACs",
              "moved KB", "inputs");
  for (std::size_t i = 0; i < p.layers.size(); ++i) {
    const model::Layer& l = p.layers[i];
    std::printf("%4zu  %-15s %-24s %-22s %12lld %10.1f  %s\n", i, l.op.c_str(), l.aten.c_str(),
                model::format_shape(l.output_shape).c_str(), static_cast<long long>(l.macs),
                static_cast<double>(l.bytes_moved) / 1e3, shapes_text(l.input_shapes).c_str());
  }
}

int run_characterize(const cli::Args& args) {
  const std::filesystem::path file = args.positionals().at(0);
  const std::string& input_text = args.str("input");
  model::Shape input;
  try {
    input = model::parse_shape(input_text);
  } catch (const Error& e) {
    throw cli::UsageError(std::string("--input: ") + e.what());
  }
  std::fprintf(stderr, "characterize: loading %s and tracing one forward pass on %s\n",
               file.c_str(), model::format_shape(input).c_str());
  const model::ModelProfile profile = characterization::characterize(file, input);
  if (args.flag("json")) {
    std::cout << model::to_json(profile).dump(2) << "\n";
  } else {
    print_table(profile);
  }
  return 0;
}

}  // namespace

std::vector<cli::Command> characterize_commands() {
  return {{"characterize", "MACs, FLOPs, parameters, size, depth and layers of a TorchScript file",
           [](cli::Parser& p) {
             p.positional("FILE.pt", "TorchScript model file")
                 .option("input", "SHAPE", "input shape of one sample", "1x3x224x224")
                 .flag("json", "print the profile as JSON (model::to_json)");
           },
           run_characterize}};
}

}  // namespace fleetml::fleetctl
