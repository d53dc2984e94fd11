#include "simulation/device/device_profile.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/messages/json.h"

namespace fleetml::sim {
namespace {

using nlohmann::json;

// Reads a required number at `key` of object `j` and checks lo <= value <= hi.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  const json& object(const json& j, const std::string& key, const std::string& where) const {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_object()) fail(where + key + ": missing or not an object");
    return *it;
  }

  double number(const json& j, const std::string& key, const std::string& where, double lo,
                double hi) const {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number()) fail(where + key + ": missing or not a number");
    const double value = it->get<double>();
    if (!std::isfinite(value) || value < lo || value > hi) {
      fail(where + key + ": " + std::to_string(value) + " is outside [" + std::to_string(lo) +
           ", " + std::to_string(hi) + "]");
    }
    return value;
  }

  bool boolean(const json& j, const std::string& key, const std::string& where) const {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_boolean()) fail(where + key + ": missing or not true/false");
    return it->get<bool>();
  }

  std::string string(const json& j, const std::string& key) const {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) fail(key + ": missing or not a string");
    return it->get<std::string>();
  }

  [[noreturn]] void fail(const std::string& reason) const { throw Error(source_ + ": " + reason); }

 private:
  std::string source_;
};

ModeTruth read_mode(const Reader& r, const json& truth, const std::string& mode) {
  const std::string where = "truth." + mode + ".";
  const json& m = r.object(truth, mode, "truth.");
  const json& e = r.object(m, "efficiency", where);
  const std::string ew = where + "efficiency.";
  ModeTruth t;
  t.efficiency.conv = r.number(e, "conv", ew, 1e-4, 1);
  t.efficiency.pointwise_conv = r.number(e, "pointwise_conv", ew, 1e-4, 1);
  t.efficiency.grouped_conv = r.number(e, "grouped_conv", ew, 1e-4, 1);
  t.efficiency.depthwise_conv = r.number(e, "depthwise_conv", ew, 1e-4, 1);
  t.efficiency.linear = r.number(e, "linear", ew, 1e-4, 1);
  t.efficiency.matmul = r.number(e, "matmul", ew, 1e-4, 1);
  t.op_overhead_us = r.number(m, "op_overhead_us", where, 0, 1e5);
  t.call_overhead_ms = r.number(m, "call_overhead_ms", where, 0, 1e5);
  t.fold_batch_norm = r.boolean(m, "fold_batch_norm", where);
  t.fuse_activation = r.boolean(m, "fuse_activation", where);
  return t;
}

}  // namespace

DeviceProfile parse_device_profile(std::string_view text, const std::string& source) {
  const Reader r(source);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    r.fail(std::string("not JSON: ") + e.what());
  }
  if (!j.is_object()) r.fail("expected a JSON object");
  DeviceProfile p;
  p.name = r.string(j, "name");
  p.description = j.value("description", "");
  try {
    messages::from_json(r.object(j, "device", "").dump(), p.device);
  } catch (const Error& e) {
    r.fail(std::string("device: ") + e.what());
  }
  p.device.set_profile(p.name);
  p.network_type = r.string(j, "network_type");
  p.nominal_downlink_kbps = r.number(j, "nominal_downlink_kbps", "", 0, 1e8);

  const json& t = r.object(j, "truth", "");
  const std::string w = "truth.";
  TruthModel& m = p.truth;
  m.peak_gflops = r.number(t, "peak_gflops", w, 1e-3, 1e6);
  m.plain = read_mode(r, t, "plain");
  m.optimized = read_mode(r, t, "optimized");
  m.reduction_half = r.number(t, "reduction_half", w, 0, 1e6);
  m.channel_half = r.number(t, "channel_half", w, 0, 1e6);
  m.parallel_half = r.number(t, "parallel_half", w, 0, 1e9);
  m.cache_mb = r.number(t, "cache_mb", w, 0, 1e5);
  m.cache_gbps = r.number(t, "cache_gbps", w, 1e-3, 1e5);
  m.dram_gbps = r.number(t, "dram_gbps", w, 1e-3, 1e5);
  m.cache_penalty = r.number(t, "cache_penalty", w, 0, 0.99);
  m.overlap_exponent = r.number(t, "overlap_exponent", w, 1, 100);
  m.jitter_sigma = r.number(t, "jitter_sigma", w, 0, 2);
  m.runtime_mb = r.number(t, "runtime_mb", w, 0, 1e6);
  m.weight_copies = r.number(t, "weight_copies", w, 0, 10);
  m.activation_live_factor = r.number(t, "activation_live_factor", w, 0, 100);
  m.usable_memory_mb = r.number(t, "usable_memory_mb", w, 1, 1e7);
  m.thrash_factor = r.number(t, "thrash_factor", w, 0, 1e3);
  return p;
}

DeviceProfile load_device_profile(const std::filesystem::path& path) {
  return parse_device_profile(file::read(path), path.string());
}

std::vector<DeviceProfile> load_device_profiles(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("profiles " + dir.string() + ": not a directory");
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  if (files.empty()) throw Error("profiles " + dir.string() + ": no *.json profile");
  std::sort(files.begin(), files.end());
  std::vector<DeviceProfile> profiles;
  for (const fs::path& f : files) profiles.push_back(load_device_profile(f));
  return profiles;
}

}  // namespace fleetml::sim
