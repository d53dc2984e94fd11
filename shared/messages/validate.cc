#include "shared/messages/validate.h"

#include <charconv>
#include <cmath>

#include "shared/messages/topics.h"

namespace fleetml::messages {
namespace {

// Whole numbers print as integers ("3600000", not "3.6e+06"), others in their shortest
// round-trip form.
std::string format(double v) {
  if (v == std::trunc(v) && std::abs(v) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(v));
  }
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

// A value quoted for a one-line reason: at most 64 characters, non-printables as '?'.
std::string quote(std::string_view v) {
  std::string out = "'";
  for (char c : v.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u > 0x7e) ? '?' : c;
  }
  if (v.size() > 64) out += "...";
  out += "'";
  return out;
}

// Records the first rule a message breaks. Field names are `scope` + name, so the reason
// says where the value sits ("applications[2].batch"); after the first failure every check
// is a no-op.
class Checker {
 public:
  bool ok() const { return !reason_; }
  std::optional<std::string> result() && { return std::move(reason_); }
  void scope(std::string prefix) { scope_ = std::move(prefix); }

  void fail(std::string_view field, std::string_view what) {
    if (ok()) reason_ = scope_ + std::string(field) + " " + std::string(what);
  }

  void vehicle(std::string_view body_id, std::string_view topic_id) {
    if (!is_valid_id(topic_id)) {
      fail("topic vehicle id", quote(topic_id) + " is not a valid id");
    } else if (body_id != topic_id) {
      fail("vehicle_id", quote(body_id) + " does not match the topic's vehicle " + quote(topic_id));
    }
  }

  void id(std::string_view field, std::string_view v) {
    if (ok() && !is_valid_id(v)) fail(field, quote(v) + " is not a valid id");
  }
  void optional_id(std::string_view field, std::string_view v) {
    if (!v.empty()) id(field, v);
  }

  // Finite and within [lo, hi], or (lo, hi] when `lo_open`.
  void real(std::string_view field, double v, double lo, double hi, bool lo_open = false) {
    if (!ok()) return;
    if (!std::isfinite(v)) {
      fail(field, "is not a finite number");
    } else if ((lo_open ? v <= lo : v < lo) || v > hi) {
      fail(field, format(v) + " is outside " + (lo_open ? "(" : "[") + format(lo) + ", " +
                      format(hi) + "]");
    }
  }
  void non_negative(std::string_view field, double v) {
    if (!ok()) return;
    if (!std::isfinite(v)) {
      fail(field, "is not a finite number");
    } else if (v < 0) {
      fail(field, format(v) + " is negative");
    }
  }

  void integer(std::string_view field, std::uint64_t v, std::uint64_t lo, std::uint64_t hi) {
    if (ok() && (v < lo || v > hi)) {
      fail(field,
           std::to_string(v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    }
  }

  void timestamp(std::string_view field, std::int64_t v) {
    if (ok() && v < 0) fail(field, std::to_string(v) + " is negative");
  }

  void text(std::string_view field, std::string_view v, std::size_t max_bytes,
            bool required = false) {
    if (!ok()) return;
    if (required && v.empty()) {
      fail(field, "is empty");
    } else if (v.size() > max_bytes) {
      fail(field, "is longer than " + std::to_string(max_bytes) + " bytes");
    }
  }

  void count(std::string_view field, int n, int lo, int hi) {
    if (!ok()) return;
    if (n < lo && n == 0) {
      fail(field, "is empty");
    } else if (n < lo || n > hi) {
      fail(field, "has " + std::to_string(n) + " entries, expected " + std::to_string(lo) + ".." +
                      std::to_string(hi));
    }
  }

 private:
  std::optional<std::string> reason_;
  std::string scope_;
};

bool is_sha256_hex(std::string_view v) {
  if (v.size() != 64) return false;
  for (char c : v) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void check_sample(Checker& c, const v1::LinkSample& s) {
  c.timestamp("start_unix_ms", s.start_unix_ms());
  c.real("duration_ms", s.duration_ms(), 0, limits::kMaxSampleDurationMs, /*lo_open=*/true);
  c.real("downlink_kbps", s.downlink_kbps(), 0, limits::kMaxDownlinkKbps);
  c.text("network", s.network(), limits::kMaxNameBytes);
}

void check_samples(Checker& c, std::string_view field,
                   const google::protobuf::RepeatedPtrField<v1::LinkSample>& samples) {
  c.count(field, samples.size(), 0, limits::kMaxLinkSamples);
  for (int i = 0; i < samples.size() && c.ok(); ++i) {
    c.scope(std::string(field) + "[" + std::to_string(i) + "].");
    check_sample(c, samples[i]);
  }
}

void check_device(Checker& c, const v1::Device& d) {
  c.scope("device.");
  c.text("arch", d.arch(), limits::kMaxNameBytes);
  c.text("cpu_model", d.cpu_model(), limits::kMaxNameBytes);
  c.integer("cores", d.cores(), 1, limits::kMaxCores);
  c.real("clock_ghz", d.clock_ghz(), 0, limits::kMaxClockGhz, /*lo_open=*/true);
  c.real("ram_gb", d.ram_gb(), 0, limits::kMaxRamGb, /*lo_open=*/true);
  c.real("nominal_gflops", d.nominal_gflops(), 0, limits::kMaxGflops);
  c.text("runtime", d.runtime(), limits::kMaxNameBytes);
  c.integer("threads", d.threads(), 1, limits::kMaxThreads);
  c.text("os", d.os(), limits::kMaxNameBytes);
  c.text("profile", d.profile(), limits::kMaxNameBytes);
  c.real("ram_budget_fraction", d.ram_budget_fraction(), 0, 1);
  c.integer("l2_cache_bytes", d.l2_cache_bytes(), 0, limits::kMaxCacheBytes);
  c.integer("last_level_cache_bytes", d.last_level_cache_bytes(), 0, limits::kMaxCacheBytes);
  if (c.ok() && d.last_level_cache_bytes() > 0 && d.l2_cache_bytes() > d.last_level_cache_bytes()) {
    c.fail("last_level_cache_bytes", std::to_string(d.last_level_cache_bytes()) +
                                         " is smaller than l2_cache_bytes " +
                                         std::to_string(d.l2_cache_bytes()));
  }
  c.count("gpus", d.gpus_size(), 0, limits::kMaxGpus);
  for (int i = 0; i < d.gpus_size() && c.ok(); ++i) {
    const v1::Gpu& g = d.gpus(i);
    c.scope("device.gpus[" + std::to_string(i) + "].");
    c.text("name", g.name(), limits::kMaxNameBytes);
    c.real("memory_gb", g.memory_gb(), 0, limits::kMaxRamGb);
    c.integer("cores", g.cores(), 0, limits::kMaxGpuCores);
    c.real("clock_ghz", g.clock_ghz(), 0, limits::kMaxClockGhz);
    c.real("nominal_gflops", g.nominal_gflops(), 0, limits::kMaxGflops);
  }
}

void check_calibration(Checker& c, const v1::Calibration& k) {
  c.scope("calibration.");
  c.integer("threads", k.threads(), 0, limits::kMaxThreads);
  c.real("gemm_gflops", k.gemm_gflops(), 0, limits::kMaxGflops);
  c.real("conv_gflops", k.conv_gflops(), 0, limits::kMaxGflops);
  c.real("pointwise_conv_gflops", k.pointwise_conv_gflops(), 0, limits::kMaxGflops);
  c.real("depthwise_conv_gflops", k.depthwise_conv_gflops(), 0, limits::kMaxGflops);
  c.real("linear_gflops", k.linear_gflops(), 0, limits::kMaxGflops);
  c.real("memory_bandwidth_gbps", k.memory_bandwidth_gbps(), 0, limits::kMaxGflops);
  c.real("op_overhead_us", k.op_overhead_us(), 0, limits::kMaxOpOverheadUs);
  c.real("pool_gops", k.pool_gops(), 0, limits::kMaxGflops);
  c.real("conv_call_us", k.conv_call_us(), 0, limits::kMaxOpOverheadUs);
  c.real("linear_stream_gflops", k.linear_stream_gflops(), 0, limits::kMaxGflops);
  c.real("duration_s", k.duration_s(), 0, limits::kMaxCalibrationDurationS);
  c.timestamp("measured_unix_ms", k.measured_unix_ms());
  c.text("source", k.source(), limits::kMaxNameBytes);
}

void check_input_shape(Checker& c, const google::protobuf::RepeatedField<std::int64_t>& shape) {
  c.count("input_shape", shape.size(), 1, limits::kMaxInputDims);
  std::int64_t elements = 1;
  for (int i = 0; i < shape.size() && c.ok(); ++i) {
    const std::int64_t dim = shape[i];
    if (dim <= 0) {
      c.fail("input_shape[" + std::to_string(i) + "]", std::to_string(dim) + " is not positive");
    } else if (dim > limits::kMaxInputElements || elements * dim > limits::kMaxInputElements) {
      c.fail("input_shape", "has more than 2^28 elements");
    } else {
      elements *= dim;  // stays <= 2^28, so the product above cannot overflow
    }
  }
}

void check_application(Checker& c, const v1::Application& a) {
  c.id("id", a.id());
  c.text("task", a.task(), limits::kMaxNameBytes, /*required=*/true);
  check_input_shape(c, a.input_shape());
  c.integer("batch", a.batch(), 1, limits::kMaxBatch);
  c.real("deadline_ms", a.deadline_ms(), 0, limits::kMaxDeadlineMs, /*lo_open=*/true);
  c.real("rate_hz", a.rate_hz(), 0, limits::kMaxRateHz, /*lo_open=*/true);
  c.real("min_accuracy", a.min_accuracy(), 0, 1);
  c.real("download_budget_s", a.download_budget_s(), 0, limits::kMaxDownloadBudgetS);
}

void check_measurement(Checker& c, const v1::Measurement& m) {
  c.scope("measurement.");
  c.non_negative("p50_ms", m.p50_ms());
  c.non_negative("p95_ms", m.p95_ms());
  c.non_negative("mean_ms", m.mean_ms());
  c.non_negative("peak_rss_mb", m.peak_rss_mb());
  c.non_negative("energy_j", m.energy_j());
  c.integer("batch", m.batch(), 0, limits::kMaxBatch);
  c.integer("threads", m.threads(), 0, limits::kMaxThreads);
  c.text("energy_source", m.energy_source(), limits::kMaxNameBytes);
}

}  // namespace

std::optional<std::string> validate(const v1::Capability& m, std::string_view topic_vehicle_id) {
  Checker c;
  c.vehicle(m.vehicle_id(), topic_vehicle_id);
  c.timestamp("sent_unix_ms", m.sent_unix_ms());
  check_device(c, m.device());
  if (m.has_calibration()) check_calibration(c, m.calibration());

  c.scope("link.");
  c.text("network_type", m.link().network_type(), limits::kMaxNameBytes);
  c.real("nominal_downlink_kbps", m.link().nominal_downlink_kbps(), 0, limits::kMaxDownlinkKbps);
  check_samples(c, "link.recent", m.link().recent());

  c.scope("");
  c.count("applications", m.applications_size(), 1, limits::kMaxApplications);
  for (int i = 0; i < m.applications_size() && c.ok(); ++i) {
    c.scope("applications[" + std::to_string(i) + "].");
    check_application(c, m.applications(i));
    for (int j = 0; j < i && c.ok(); ++j) {
      if (m.applications(j).id() == m.applications(i).id()) {
        c.fail("id", quote(m.applications(i).id()) + " duplicates applications[" +
                         std::to_string(j) + "]");
      }
    }
  }

  c.scope("");
  c.count("installed", m.installed_size(), 0, limits::kMaxInstalled);
  for (int i = 0; i < m.installed_size() && c.ok(); ++i) {
    const v1::InstalledModel& im = m.installed(i);
    c.scope("installed[" + std::to_string(i) + "].");
    c.id("model_id", im.model_id());
    if (!im.sha256().empty() && !is_sha256_hex(im.sha256())) {
      c.fail("sha256", "is not 64 lowercase hex digits");
    }
    c.optional_id("application_id", im.application_id());
  }
  return std::move(c).result();
}

std::optional<std::string> validate(const v1::Status& m, std::string_view topic_vehicle_id) {
  Checker c;
  c.vehicle(m.vehicle_id(), topic_vehicle_id);
  c.timestamp("sent_unix_ms", m.sent_unix_ms());
  if (m.state() != v1::Status::ONLINE && m.state() != v1::Status::OFFLINE) {
    c.fail("state", std::to_string(m.state()) + " is neither ONLINE nor OFFLINE");
  }
  c.count("transfers", m.transfers_size(), 0, limits::kMaxTransfers);
  for (int i = 0; i < m.transfers_size() && c.ok(); ++i) {
    const v1::TransferState& t = m.transfers(i);
    c.scope("transfers[" + std::to_string(i) + "].");
    c.id("application_id", t.application_id());
    c.id("model_id", t.model_id());
    if (!v1::TransferState::Phase_IsValid(t.phase()) ||
        t.phase() == v1::TransferState::PHASE_UNSPECIFIED) {
      c.fail("phase", std::to_string(t.phase()) + " is not a known phase");
    }
    if (t.bytes_total() > 0 && t.bytes_done() > t.bytes_total()) {
      c.fail("bytes_done", std::to_string(t.bytes_done()) + " exceeds bytes_total " +
                               std::to_string(t.bytes_total()));
    }
    c.text("detail", t.detail(), limits::kMaxDetailBytes);
  }
  return std::move(c).result();
}

std::optional<std::string> validate(const v1::LinkReport& m, std::string_view topic_vehicle_id) {
  Checker c;
  c.vehicle(m.vehicle_id(), topic_vehicle_id);
  check_samples(c, "samples", m.samples());
  return std::move(c).result();
}

std::optional<std::string> validate(const v1::FetchRequest& m, std::string_view topic_vehicle_id) {
  Checker c;
  c.vehicle(m.vehicle_id(), topic_vehicle_id);
  c.id("model_id", m.model_id());
  c.integer("max_bytes", m.max_bytes(), 1, limits::kMaxFetchBytes);
  return std::move(c).result();
}

std::optional<std::string> validate(const v1::Report& m, std::string_view topic_vehicle_id) {
  Checker c;
  c.vehicle(m.vehicle_id(), topic_vehicle_id);
  c.timestamp("sent_unix_ms", m.sent_unix_ms());
  if (!v1::Report::Kind_IsValid(m.kind()) || m.kind() == v1::Report::KIND_UNSPECIFIED) {
    c.fail("kind", std::to_string(m.kind()) + " is not a known report kind");
  }
  const bool measured = m.kind() == v1::Report::INSTALLED || m.kind() == v1::Report::BENCHMARK;
  if (measured) {
    c.id("application_id", m.application_id());
    c.id("model_id", m.model_id());
    if (!m.has_measurement()) c.fail("measurement", "is missing");
  } else {
    c.optional_id("application_id", m.application_id());
    c.optional_id("model_id", m.model_id());
  }
  c.text("reason", m.reason(), limits::kMaxNameBytes);
  c.text("detail", m.detail(), limits::kMaxDetailBytes);
  if (m.has_measurement()) check_measurement(c, m.measurement());
  c.scope("download.");
  c.non_negative("duration_s", m.download().duration_s());
  return std::move(c).result();
}

}  // namespace fleetml::messages
