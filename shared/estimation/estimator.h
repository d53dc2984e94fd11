#pragma once

#include <string>
#include <string_view>

#include "schemas/fleet.pb.h"
#include "shared/common/error.h"
#include "shared/model/model_profile.h"

namespace fleetml::estimation {

// Inference-time estimation (docs/estimation.md): how long one forward() call of a model
// takes on a device in its runtime configuration. Pure: no MQTT, no SQLite, no LibTorch.
//
// The coordinator (coordinator/service/latency_service.h) answers measured (device kind,
// model, batch) triples from MeasuredLatencies (measured.h) and the rest with the configured
// estimator: RooflineEstimator scaled by the device kind's corrections (adaptation.h), or
// LearnedEstimator retrained on all measurements (learned.h).

// What is being estimated.
struct Query {
  const model::ModelProfile& model;  // characterization at batch 1 (its name = catalog id)
  const v1::Capability& capability;  // device + calibration of the configuration it runs in
  int batch = 1;                     // samples per forward() call
  std::string display_name = {};     // human model name (the llm prompt); "" = model.name
};

// A prediction for one forward() call on `batch` samples.
struct Estimate {
  double point_ms = 0;    // best guess of the median latency
  double bound_ms = 0;    // conservative upper bound, meant to cover the p95 latency
  std::string estimator;  // "flops", "roofline", "learned", "llm", "measured"
  std::string basis;      // one line: what the figure rests on
};

// An estimator that cannot estimate this query (DIGA's proxy without a nominal GFLOPS figure,
// no trained model, an LLM answer that makes no sense). Thrown rather than returned so that no
// caller can mistake an absent estimate for a 0 ms one.
class Unavailable : public Error {
 public:
  using Error::Error;
};

class Estimator {
 public:
  virtual ~Estimator() = default;
  virtual std::string name() const = 0;
  // Throws Unavailable when this estimator cannot estimate `query`, fleetml::Error when the
  // query itself is malformed (batch < 1, a calibration without rates).
  virtual Estimate estimate(const Query& query) const = 0;
};

// Stable key of "this kind of device in this runtime configuration", shared by identical
// devices so that they share measurements: arch, CPU model, cores, GPU names, simulated
// profile, runtime, threads and mode. Not the vehicle id, nor figures that wobble between
// readings of the same hardware (clock, RAM). Example: "x86_64|AMD
// EPYC|2c|-|libtorch-1.13.0|t1|opt".
std::string device_key(const v1::Capability& capability);

// Throws fleetml::Error naming the estimator when batch < 1.
void check_batch(std::string_view estimator, int batch);

}  // namespace fleetml::estimation
