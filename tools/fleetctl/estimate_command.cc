// fleetctl estimate: one model's latency on one device by any estimator, without a
// coordinator. fleetctl eval-estimators: every estimator side by side on measurement sets,
// leave-one-model-out (docs/estimation.md).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "shared/characterization/characterization.h"
#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/estimation/adaptation.h"
#include "shared/estimation/evaluation.h"
#include "shared/estimation/flops.h"
#include "shared/estimation/learned.h"
#include "shared/estimation/llm.h"
#include "shared/estimation/roofline.h"
#include "shared/estimation/samples.h"
#include "shared/messages/json.h"
#include "tools/fleetctl/commands.h"

namespace fleetml::fleetctl {
namespace {
namespace fs = std::filesystem;
using namespace estimation;

// Where `scripts/export-zoo.sh` writes <id>.profile.json: $FLEETML_ZOO_DIR, else its default.
std::string default_profiles_dir() {
  if (const char* dir = std::getenv("FLEETML_ZOO_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home != nullptr ? home : ".") / ".cache" / "fleetml" / "zoo").string();
}

// Every CSV named by --measurements: files as given, directories for their *.csv (sorted, so
// that runs are repeatable), with their model profiles attached.
std::vector<Sample> load_measurements(const std::vector<std::string>& paths,
                                      const fs::path& profiles) {
  std::vector<fs::path> files;
  for (const fs::path p : paths) {
    if (!fs::is_directory(p)) {
      files.push_back(p);
      continue;
    }
    std::vector<fs::path> in_dir;
    for (const auto& e : fs::directory_iterator(p)) {
      if (e.path().extension() == ".csv") in_dir.push_back(e.path());
    }
    std::sort(in_dir.begin(), in_dir.end());
    if (in_dir.empty()) throw Error("measurements " + p.string() + ": no *.csv in it");
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  std::vector<Sample> samples;
  for (const fs::path& f : files) {
    auto more = read_measurements_csv(f);
    samples.insert(samples.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
  }
  attach_profiles(samples, profiles);
  return samples;
}

LlmConfig llm_config(const cli::Args& args) {
  LlmConfig c;
  c.url = args.str("llm-url");
  c.model = args.str("llm-model");
  return c;
}

// --model is a TorchScript file (characterized here, which loads LibTorch) or a
// characterization JSON (`fleetctl characterize --json`).
model::ModelProfile load_model(const fs::path& file, const std::string& input_text) {
  if (file.extension() == ".json") return load_profile(file);
  model::Shape input;
  try {
    input = model::parse_shape(input_text);
  } catch (const Error& e) {
    throw cli::UsageError(std::string("--input: ") + e.what());
  }
  return characterization::characterize(file, input);
}

std::shared_ptr<const Estimator> make_estimator(const cli::Args& args,
                                                const v1::Capability& capability) {
  const std::string& name = args.str("estimator");
  if (name == "flops") return std::make_shared<FlopsEstimator>();
  if (name == "llm") {
    if (!args.has("llm-url")) throw cli::UsageError("--estimator llm needs --llm-url URL");
    return std::make_shared<LlmEstimator>(llm_config(args));
  }
  if (name != "roofline" && name != "learned") {
    throw cli::UsageError("--estimator: expected flops, roofline, learned or llm, got " + name);
  }
  std::vector<Sample> samples;
  if (args.has("measurements")) {
    samples = load_measurements(args.list("measurements"), args.str("profiles"));
  }
  if (name == "learned") {
    if (samples.empty()) throw cli::UsageError("--estimator learned needs --measurements CSV");
    return std::make_shared<LearnedEstimator>(LearnedModel::train(samples));
  }
  // roofline, adapted to this device kind when the measurements include it.
  std::vector<Sample> own;
  for (const Sample& s : samples) {
    if (device_key(s.capability) == device_key(capability)) own.push_back(s);
  }
  auto table = std::make_shared<CorrectionTable>();
  if (!own.empty()) table->put(fit_corrections(own));
  return std::make_shared<RooflineEstimator>(table);
}

int run_estimate(const cli::Args& args) {
  v1::Capability capability;
  messages::from_json(file::read(args.str("device")), capability, /*ignore_unknown=*/true);
  const std::int64_t batch = args.integer("batch");
  if (batch < 1) throw cli::UsageError("--batch must be >= 1");
  const model::ModelProfile model = load_model(args.str("model"), args.str("input"));
  const auto estimator = make_estimator(args, capability);
  const Estimate e = estimator->estimate({model, capability, static_cast<int>(batch)});
  if (args.flag("json")) {
    std::cout << nlohmann::json{{"model", model.name},    {"device_key", device_key(capability)},
                                {"batch", batch},         {"estimator", e.estimator},
                                {"point_ms", e.point_ms}, {"bound_ms", e.bound_ms},
                                {"basis", e.basis}}
                     .dump(2)
              << "\n";
  } else {
    std::printf("%s on %s, batch %lld, %s: %.3f ms (bound %.3f ms)\n  %s\n", model.name.c_str(),
                device_key(capability).c_str(), static_cast<long long>(batch), e.estimator.c_str(),
                e.point_ms, e.bound_ms, e.basis.c_str());
  }
  return 0;
}

int run_eval(const cli::Args& args) {
  std::vector<std::string> paths = args.list("measurements");
  if (paths.empty()) paths = {"data/measurements"};
  const std::vector<Sample> samples = load_measurements(paths, args.str("profiles"));
  std::vector<Method> methods = standard_methods();
  if (args.has("llm-url")) {
    // Nothing to fit: the LLM sees only the model's name and the device's nominal figures.
    methods.push_back({"llm", [config = llm_config(args)](std::span<const Sample>) {
                         return std::make_shared<LlmEstimator>(config);
                       }});
  }
  std::fprintf(stderr, "eval-estimators: %zu samples, %zu methods, leave-one-model-out\n",
               samples.size(), methods.size());
  const EvaluationReport report = evaluate(samples, methods);
  if (args.flag("json")) {
    std::cout << to_json(report).dump(2) << "\n";
  } else {
    std::cout << format_report(report);
  }
  return 0;
}

void declare_llm(cli::Parser& p) {
  p.option("llm-url", "URL", "Ollama-compatible server, e.g. http://127.0.0.1:11434")
      .option("llm-model", "NAME", "model the LLM server runs", LlmConfig{}.model);
}

}  // namespace

std::vector<cli::Command> estimate_commands() {
  return {{"estimate", "predicted latency (point and bound, ms) of a model on a device",
           [](cli::Parser& p) {
             p.required("model", "FILE", "TorchScript file, or its characterization (.json)")
                 .required("device", "CAPABILITY.json", "the device's Capability (proto JSON)")
                 .option("estimator", "NAME", "flops, roofline, learned or llm", "roofline")
                 .option("batch", "N", "samples per call", "1")
                 .option("input", "SHAPE", "input shape of one sample (TorchScript only)",
                         "1x3x224x224")
                 .repeated("measurements", "CSV",
                           "measurement set (file or directory): trains learned, adapts "
                           "roofline to the device")
                 .option("profiles", "DIR", "directory of <model_id>.profile.json",
                         default_profiles_dir())
                 .flag("json", "print the estimate as JSON");
             declare_llm(p);
           },
           run_estimate},
          {"eval-estimators", "compare every estimator on measurement sets, leave-one-model-out",
           [](cli::Parser& p) {
             p.repeated("measurements", "CSV",
                        "measurement set, file or directory of *.csv (default: data/measurements)")
                 .option("profiles", "DIR", "directory of <model_id>.profile.json",
                         default_profiles_dir())
                 .flag("json", "print predictions and metrics as JSON");
             declare_llm(p);
           },
           run_eval}};
}

}  // namespace fleetml::fleetctl
