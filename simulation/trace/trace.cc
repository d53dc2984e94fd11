#include "simulation/trace/trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "shared/common/error.h"
#include "shared/common/file.h"

namespace fleetml::sim {
namespace {

constexpr double kBytesPerSecondPerKbps = 1000.0 / 8.0;

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

}  // namespace

Trace::Trace(std::string name, std::vector<double> kbps, std::vector<std::string> network)
    : name_(std::move(name)), kbps_(std::move(kbps)), network_(std::move(network)) {
  prefix_bytes_.reserve(kbps_.size() + 1);
  prefix_bytes_.push_back(0.0);
  for (double rate : kbps_)
    prefix_bytes_.push_back(prefix_bytes_.back() + rate * kBytesPerSecondPerKbps);
}

Trace Trace::parse(std::string_view csv, std::string source) {
  std::vector<double> kbps;
  std::vector<std::string> network;
  std::ptrdiff_t t_col = -1, rate_col = -1, network_col = -1;
  std::size_t columns = 0;
  std::size_t line_number = 0;
  std::size_t pos = 0;
  bool pending_blank = false;  // a blank line is only allowed at the very end
  std::size_t blank_line = 0;
  auto fail = [&](std::size_t line, const std::string& reason) -> Error {
    return Error(source + ":" + std::to_string(line) + ": " + reason);
  };
  while (pos < csv.size()) {
    std::size_t end = csv.find('\n', pos);
    if (end == std::string_view::npos) end = csv.size();
    std::string_view line = csv.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (!pending_blank) blank_line = line_number;
      pending_blank = true;
      continue;
    }
    if (pending_blank) throw fail(blank_line, "blank line inside the trace");
    const std::vector<std::string_view> fields = split_fields(line);
    if (line_number == 1) {
      columns = fields.size();
      for (std::size_t i = 0; i < fields.size(); ++i) {
        const auto col = static_cast<std::ptrdiff_t>(i);
        if (fields[i] == "t_s") t_col = col;
        if (fields[i] == "downlink_kbps") rate_col = col;
        if (fields[i] == "network_mode") network_col = col;
      }
      if (t_col < 0 || rate_col < 0) {
        throw fail(1, "header must name the columns t_s and downlink_kbps, got " + quoted(line));
      }
      continue;
    }
    if (fields.size() != columns) {
      throw fail(line_number, "expected " + std::to_string(columns) + " fields, got " +
                                  std::to_string(fields.size()));
    }
    const std::string_view t_text = fields[static_cast<std::size_t>(t_col)];
    std::int64_t t = -1;
    auto [t_end, t_ec] = std::from_chars(t_text.data(), t_text.data() + t_text.size(), t);
    if (t_ec != std::errc{} || t_end != t_text.data() + t_text.size() ||
        t != static_cast<std::int64_t>(kbps.size())) {
      throw fail(line_number, "t_s " + quoted(t_text) + " should be " +
                                  std::to_string(kbps.size()) +
                                  " (one sample per second, counting from 0)");
    }
    const std::string_view rate_text = fields[static_cast<std::size_t>(rate_col)];
    double rate = -1;
    auto [r_end, r_ec] =
        std::from_chars(rate_text.data(), rate_text.data() + rate_text.size(), rate);
    if (r_ec != std::errc{} || r_end != rate_text.data() + rate_text.size() ||
        !std::isfinite(rate) || rate < 0) {
      throw fail(line_number,
                 "downlink_kbps " + quoted(rate_text) + " is not a finite, non-negative number");
    }
    kbps.push_back(rate);
    network.emplace_back(network_col >= 0 ? fields[static_cast<std::size_t>(network_col)]
                                          : std::string_view{});
  }
  if (line_number == 0) throw Error(source + ": empty file, expected a header");
  if (kbps.empty()) throw Error(source + ": no samples");
  return Trace(std::move(source), std::move(kbps), std::move(network));
}

Trace Trace::load(const std::filesystem::path& path) {
  return parse(file::read(path), path.string());
}

Trace Trace::from_rates(std::string name, std::vector<double> downlink_kbps,
                        std::vector<std::string> network) {
  if (downlink_kbps.empty()) throw Error("trace " + name + ": no samples");
  for (double rate : downlink_kbps) {
    if (!std::isfinite(rate) || rate < 0) {
      throw Error("trace " + name + ": rate " + std::to_string(rate) +
                  " kbit/s is not a finite, non-negative number");
    }
  }
  if (network.empty()) network.resize(downlink_kbps.size());
  if (network.size() != downlink_kbps.size()) {
    throw Error("trace " + name + ": " + std::to_string(network.size()) + " network entries for " +
                std::to_string(downlink_kbps.size()) + " samples");
  }
  return Trace(std::move(name), std::move(downlink_kbps), std::move(network));
}

const std::string& Trace::network(std::size_t second) const { return network_.at(second); }

double Trace::mean_kbps() const {
  return std::accumulate(kbps_.begin(), kbps_.end(), 0.0) / static_cast<double>(kbps_.size());
}

std::size_t Trace::second_at(double position_s) const {
  const double duration = static_cast<double>(kbps_.size());
  const double within = position_s - std::floor(position_s / duration) * duration;
  return std::min(static_cast<std::size_t>(std::max(within, 0.0)), kbps_.size() - 1);
}

double Trace::cumulative_bytes(double position_s) const {
  const double duration = static_cast<double>(kbps_.size());
  const double loops = std::floor(position_s / duration);
  const double within = std::clamp(position_s - loops * duration, 0.0, duration);
  const std::size_t second = second_at(position_s);
  return loops * total_bytes() + prefix_bytes_[second] +
         kbps_[second] * kBytesPerSecondPerKbps * (within - static_cast<double>(second));
}

double Trace::position_reaching(double bytes) const {
  const double total = total_bytes();
  if (total <= 0) {
    throw Error("trace " + name_ + ": every sample is 0 kbit/s, so a download never finishes");
  }
  // Split into whole passes plus a remainder in (0, total]: the remainder's first position
  // is the earliest point of the pass that reaches it.
  double loops = std::ceil(bytes / total) - 1;
  double rest = bytes - loops * total;
  if (rest <= 0) {
    rest += total;
    loops -= 1;
  } else if (rest > total) {
    rest -= total;
    loops += 1;
  }
  const auto it = std::lower_bound(prefix_bytes_.begin() + 1, prefix_bytes_.end(), rest);
  const auto second = static_cast<std::size_t>(it - (prefix_bytes_.begin() + 1));
  // prefix_bytes_[second] < rest <= prefix_bytes_[second + 1], so this second's rate is > 0.
  const double fraction = std::clamp(
      (rest - prefix_bytes_[second]) / (kbps_[second] * kBytesPerSecondPerKbps), 0.0, 1.0);
  return loops * static_cast<double>(kbps_.size()) + static_cast<double>(second) + fraction;
}

std::size_t Scenario::duration_s() const {
  std::size_t total = 0;
  for (const auto& trace : traces) total += trace->duration_s();
  return total;
}

std::vector<Scenario> load_scenarios(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("traces " + dir.string() + ": not a directory");
  std::vector<Scenario> scenarios;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (!entry.is_directory()) continue;
    std::vector<fs::path> files;
    for (const fs::directory_entry& f : fs::directory_iterator(entry.path())) {
      if (f.is_regular_file() && f.path().extension() == ".csv") files.push_back(f.path());
    }
    if (files.empty()) continue;
    std::sort(files.begin(), files.end());
    Scenario scenario{entry.path().filename().string(), {}};
    for (const fs::path& f : files) {
      scenario.traces.push_back(std::make_shared<const Trace>(Trace::load(f)));
    }
    scenarios.push_back(std::move(scenario));
  }
  if (scenarios.empty()) {
    throw Error("traces " + dir.string() + ": no sub-folder with *.csv traces");
  }
  std::sort(scenarios.begin(), scenarios.end(),
            [](const Scenario& a, const Scenario& b) { return a.name < b.name; });
  return scenarios;
}

}  // namespace fleetml::sim
