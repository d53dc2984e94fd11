#pragma once

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "schemas/fleet.pb.h"
#include "shared/model/model_profile.h"

namespace fleetml::estimation {

// One measured latency of one model on one device kind in one configuration: what fleet
// reports (and `scripts/measure-zoo.sh`, `fleet-sim measure`) deliver to the estimators that
// learn. The coordinator builds it from a stored measurement, the catalog's profile and the
// reporting vehicle's capability.
struct Sample {
  std::string model_id;
  model::Shape input_shape;                          // one sample, leading 1
  std::shared_ptr<const model::ModelProfile> model;  // may be null until attach_profiles
  v1::Capability capability;                         // device + calibration of the configuration
  int batch = 1;
  double p50_ms = 0;  // per forward() call
  double p95_ms = 0;
  double mean_ms = 0;
  double min_ms = 0;
  double peak_rss_mb = 0;
  int repeats = 0;
  // Provenance of a measurement-set row: 1-minute load average before the run, cores other
  // processes kept busy during it, and "measured" or "simulated:<profile>".
  double load1 = 0;
  double foreign_cores = 0;
  std::string source;
};

// The measurement-set CSV (data/measurements/*.csv), one Sample a row, with this header:
//   model_id,input_shape,batch,threads,optimized,arch,cpu_model,cores,clock_ghz,ram_gb,
//   nominal_gflops,gpu_name,gpu_memory_gb,gpu_cores,gpu_clock_ghz,runtime,profile,
//   gemm_gflops,conv_gflops,pointwise_conv_gflops,depthwise_conv_gflops,linear_gflops,
//   memory_bandwidth_gbps,op_overhead_us,p50_ms,p95_ms,mean_ms,min_ms,peak_rss_mb,repeats,
//   load1,foreign_cores,source,l2_cache_bytes,last_level_cache_bytes,pool_gops,conv_call_us,
//   linear_stream_gflops
// (input_shape as "1x3x224x224", optimized as true/false, fields with commas or quotes
// double-quoted). threads and optimized fill both v1::Device and v1::Calibration.
extern const char* const kMeasurementHeader;

// Parses a measurement set; columns may come in any order but all of the header's must be
// there, except the columns from l2_cache_bytes on (added later; missing = 0, unknown).
// Throws fleetml::Error "<what>:<line>: <reason>" on a missing column, a short row, a malformed
// number, or a non-positive batch, threads or latency.
std::vector<Sample> parse_measurements_csv(std::string_view text, const std::string& what);
std::vector<Sample> read_measurements_csv(const std::filesystem::path& path);

// Writes the header and one row per sample.
void write_measurements_csv(std::ostream& out, std::span<const Sample> samples);

// Sets each sample's model from `<dir>/<model_id>.profile.json` (as written by `fleetctl
// characterize --json`), loading each file once. Throws fleetml::Error when a profile is
// missing or malformed or its input shape differs from the sample's.
void attach_profiles(std::vector<Sample>& samples, const std::filesystem::path& dir);

// Reads one characterization file (model::profile_from_json of its JSON). Throws
// fleetml::Error naming the file.
model::ModelProfile load_profile(const std::filesystem::path& path);

}  // namespace fleetml::estimation
