#include "shared/estimation/samples.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <ostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/common/file.h"

namespace fleetml::estimation {

const char* const kMeasurementHeader =
    "model_id,input_shape,batch,threads,optimized,arch,cpu_model,cores,clock_ghz,ram_gb,"
    "nominal_gflops,gpu_name,gpu_memory_gb,gpu_cores,gpu_clock_ghz,runtime,profile,"
    "gemm_gflops,conv_gflops,pointwise_conv_gflops,depthwise_conv_gflops,linear_gflops,"
    "memory_bandwidth_gbps,op_overhead_us,p50_ms,p95_ms,mean_ms,min_ms,peak_rss_mb,repeats,"
    "load1,foreign_cores,source,l2_cache_bytes,last_level_cache_bytes,pool_gops,conv_call_us,"
    "linear_stream_gflops";

namespace {
// Columns added after the first measurement sets were written: a set without them reads as
// "unknown" (0).
constexpr std::string_view kOptionalColumns[] = {"l2_cache_bytes", "last_level_cache_bytes",
                                                 "pool_gops", "conv_call_us",
                                                 "linear_stream_gflops"};
}  // namespace

namespace {

// Splits one CSV line (RFC 4180 quoting, no embedded newlines).
std::vector<std::string> split_csv(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string number(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

class Row {
 public:
  Row(const std::map<std::string, std::size_t>& columns, std::vector<std::string> fields,
      std::string where)
      : columns_(columns), fields_(std::move(fields)), where_(std::move(where)) {}

  const std::string& text(const std::string& name) const { return fields_.at(columns_.at(name)); }
  bool has(const std::string& name) const { return columns_.contains(name); }
  double num(const std::string& name) const {
    const std::string& t = text(name);
    double v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !std::isfinite(v)) {
      fail(name + " is not a number: \"" + t + "\"");
    }
    return v;
  }
  double positive(const std::string& name) const {
    const double v = num(name);
    if (v <= 0) fail(name + " must be > 0, got " + text(name));
    return v;
  }
  double non_negative(const std::string& name) const {
    const double v = num(name);
    if (v < 0) fail(name + " must be >= 0, got " + text(name));
    return v;
  }
  std::uint64_t cache_bytes(const std::string& name) const {
    const double v = num(name);
    if (v < 0 || v != std::floor(v)) fail(name + " is not a byte count: " + text(name));
    return static_cast<std::uint64_t>(v);
  }
  bool boolean(const std::string& name) const {
    if (text(name) == "true" || text(name) == "1") return true;
    if (text(name) == "false" || text(name) == "0") return false;
    fail(name + " is not true/false: \"" + text(name) + "\"");
  }
  [[noreturn]] void fail(const std::string& reason) const { throw Error(where_ + ": " + reason); }

 private:
  const std::map<std::string, std::size_t>& columns_;
  std::vector<std::string> fields_;
  std::string where_;
};

Sample parse_row(const Row& r) {
  Sample s;
  s.model_id = r.text("model_id");
  if (s.model_id.empty()) r.fail("empty model_id");
  try {
    s.input_shape = model::parse_shape(r.text("input_shape"));
  } catch (const Error& e) {
    r.fail(std::string("input_shape: ") + e.what());
  }
  s.batch = static_cast<int>(r.positive("batch"));
  const auto threads = static_cast<std::uint32_t>(r.positive("threads"));
  const bool optimized = r.boolean("optimized");

  v1::Device& d = *s.capability.mutable_device();
  d.set_arch(r.text("arch"));
  d.set_cpu_model(r.text("cpu_model"));
  d.set_cores(static_cast<std::uint32_t>(r.num("cores")));
  d.set_clock_ghz(r.num("clock_ghz"));
  d.set_ram_gb(r.num("ram_gb"));
  d.set_nominal_gflops(r.num("nominal_gflops"));
  if (!r.text("gpu_name").empty()) {
    v1::Gpu& g = *d.add_gpus();
    g.set_name(r.text("gpu_name"));
    g.set_memory_gb(r.num("gpu_memory_gb"));
    g.set_cores(static_cast<std::uint32_t>(r.num("gpu_cores")));
    g.set_clock_ghz(r.num("gpu_clock_ghz"));
  }
  d.set_runtime(r.text("runtime"));
  d.set_profile(r.text("profile"));
  d.set_threads(threads);
  d.set_optimized(optimized);
  if (r.has("l2_cache_bytes")) d.set_l2_cache_bytes(r.cache_bytes("l2_cache_bytes"));
  if (r.has("last_level_cache_bytes")) {
    d.set_last_level_cache_bytes(r.cache_bytes("last_level_cache_bytes"));
  }

  v1::Calibration& c = *s.capability.mutable_calibration();
  c.set_threads(threads);
  c.set_optimized(optimized);
  c.set_gemm_gflops(r.positive("gemm_gflops"));
  c.set_conv_gflops(r.positive("conv_gflops"));
  c.set_pointwise_conv_gflops(r.positive("pointwise_conv_gflops"));
  c.set_depthwise_conv_gflops(r.positive("depthwise_conv_gflops"));
  c.set_linear_gflops(r.positive("linear_gflops"));
  c.set_memory_bandwidth_gbps(r.positive("memory_bandwidth_gbps"));
  c.set_op_overhead_us(r.positive("op_overhead_us"));
  if (r.has("pool_gops")) c.set_pool_gops(r.non_negative("pool_gops"));
  if (r.has("conv_call_us")) c.set_conv_call_us(r.non_negative("conv_call_us"));
  if (r.has("linear_stream_gflops")) {
    c.set_linear_stream_gflops(r.non_negative("linear_stream_gflops"));
  }
  c.set_source(r.text("source"));

  s.p50_ms = r.positive("p50_ms");
  s.p95_ms = r.positive("p95_ms");
  s.mean_ms = r.positive("mean_ms");
  s.min_ms = r.positive("min_ms");
  s.peak_rss_mb = r.num("peak_rss_mb");
  s.repeats = static_cast<int>(r.num("repeats"));
  s.load1 = r.num("load1");
  s.foreign_cores = r.num("foreign_cores");
  s.source = r.text("source");
  if (s.p95_ms < s.p50_ms) r.fail("p95_ms < p50_ms");
  return s;
}

}  // namespace

std::vector<Sample> parse_measurements_csv(std::string_view text, const std::string& what) {
  std::vector<Sample> samples;
  std::map<std::string, std::size_t> columns;
  std::size_t width = 0;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty() || line == "\r") continue;
    std::vector<std::string> fields = split_csv(line);
    const std::string where = what + ":" + std::to_string(line_no);
    if (columns.empty()) {
      for (std::size_t i = 0; i < fields.size(); ++i) columns[fields[i]] = i;
      for (const std::string& name : split_csv(kMeasurementHeader)) {
        const bool optional = std::find(std::begin(kOptionalColumns), std::end(kOptionalColumns),
                                        name) != std::end(kOptionalColumns);
        if (!optional && !columns.contains(name)) throw Error(where + ": missing column " + name);
      }
      width = fields.size();
      continue;
    }
    if (fields.size() != width) {
      throw Error(where + ": " + std::to_string(fields.size()) + " fields, header has " +
                  std::to_string(width));
    }
    samples.push_back(parse_row(Row(columns, std::move(fields), where)));
  }
  if (columns.empty()) throw Error(what + ": empty measurement set");
  return samples;
}

std::vector<Sample> read_measurements_csv(const std::filesystem::path& path) {
  return parse_measurements_csv(file::read(path), path.string());
}

void write_measurements_csv(std::ostream& out, std::span<const Sample> samples) {
  out << kMeasurementHeader << "\n";
  for (const Sample& s : samples) {
    const v1::Device& d = s.capability.device();
    const v1::Calibration& c = s.capability.calibration();
    const v1::Gpu gpu = d.gpus_size() > 0 ? d.gpus(0) : v1::Gpu();
    const std::vector<std::string> fields = {s.model_id,
                                             model::format_shape(s.input_shape),
                                             std::to_string(s.batch),
                                             std::to_string(c.threads()),
                                             c.optimized() ? "true" : "false",
                                             d.arch(),
                                             d.cpu_model(),
                                             std::to_string(d.cores()),
                                             number(d.clock_ghz()),
                                             number(d.ram_gb()),
                                             number(d.nominal_gflops()),
                                             gpu.name(),
                                             number(gpu.memory_gb()),
                                             std::to_string(gpu.cores()),
                                             number(gpu.clock_ghz()),
                                             d.runtime(),
                                             d.profile(),
                                             number(c.gemm_gflops()),
                                             number(c.conv_gflops()),
                                             number(c.pointwise_conv_gflops()),
                                             number(c.depthwise_conv_gflops()),
                                             number(c.linear_gflops()),
                                             number(c.memory_bandwidth_gbps()),
                                             number(c.op_overhead_us()),
                                             number(s.p50_ms),
                                             number(s.p95_ms),
                                             number(s.mean_ms),
                                             number(s.min_ms),
                                             number(s.peak_rss_mb),
                                             std::to_string(s.repeats),
                                             number(s.load1),
                                             number(s.foreign_cores),
                                             s.source,
                                             std::to_string(d.l2_cache_bytes()),
                                             std::to_string(d.last_level_cache_bytes()),
                                             number(c.pool_gops()),
                                             number(c.conv_call_us()),
                                             number(c.linear_stream_gflops())};
    for (std::size_t i = 0; i < fields.size(); ++i) {
      out << (i ? "," : "") << csv_field(fields[i]);
    }
    out << "\n";
  }
}

model::ModelProfile load_profile(const std::filesystem::path& path) {
  const std::string text = file::read(path);
  try {
    return model::profile_from_json(nlohmann::json::parse(text));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": " + e.what());
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

void attach_profiles(std::vector<Sample>& samples, const std::filesystem::path& dir) {
  std::map<std::string, std::shared_ptr<const model::ModelProfile>> loaded;
  for (Sample& s : samples) {
    auto& profile = loaded[s.model_id];
    if (!profile) {
      const std::filesystem::path path = dir / (s.model_id + ".profile.json");
      if (!std::filesystem::exists(path)) {
        throw Error("measurement of " + s.model_id + ": no characterization " + path.string());
      }
      auto p = std::make_shared<model::ModelProfile>(load_profile(path));
      if (p->name.empty()) p->name = s.model_id;
      profile = std::move(p);
    }
    if (profile->input_shape != s.input_shape) {
      throw Error("measurement of " + s.model_id + " on " + model::format_shape(s.input_shape) +
                  ": its characterization is for " + model::format_shape(profile->input_shape));
    }
    s.model = profile;
  }
}

}  // namespace fleetml::estimation
