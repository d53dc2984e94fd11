#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fleetml::sim {

// One downlink throughput trace: sample i is the application-layer downlink rate during
// second [i, i+1) of the trace (format: data/traces/README.md; semantics: docs/simulation.md).
// Immutable once built; share it between links with std::shared_ptr<const Trace>.
//
// Positions are in trace seconds and may be any real number: the trace loops, so position
// p and p + duration_s() are the same point of the trace one pass later.
class Trace {
 public:
  // Parses the CSV format: a header naming at least `t_s` and `downlink_kbps` (optionally
  // `network_mode`), then one row per second with t_s = 0, 1, 2, ... and a finite,
  // non-negative downlink_kbps. Throws fleetml::Error "<source>:<line>: <reason>" on the first
  // malformed line, and "<source>: no samples" for a file without rows.
  static Trace parse(std::string_view csv, std::string source);

  // Reads and parses a file; the trace's name is the path. Throws fleetml::Error.
  static Trace load(const std::filesystem::path& path);

  // A trace from rates in kbit/s, one per second (tests, synthetic links). `network` is empty
  // or has one entry per second. Throws fleetml::Error on an empty, negative or non-finite rate.
  static Trace from_rates(std::string name, std::vector<double> downlink_kbps,
                          std::vector<std::string> network = {});

  const std::string& name() const { return name_; }
  std::size_t duration_s() const { return kbps_.size(); }
  double downlink_kbps(std::size_t second) const { return kbps_.at(second); }
  // Radio technology logged for that second ("5G", "LTE", ...), "" when the file has none.
  const std::string& network(std::size_t second) const;
  // Mean of downlink_kbps over every sample (the file mean, all rows).
  double mean_kbps() const;
  // Bytes one pass of the trace delivers.
  double total_bytes() const { return prefix_bytes_.back(); }

  // The sample index of the looped trace that covers `position_s`.
  std::size_t second_at(double position_s) const;

  // Bytes delivered between position 0 and `position_s` of the looped trace (negative for a
  // negative position). Within a second bytes flow at that second's constant rate.
  double cumulative_bytes(double position_s) const;

  // The smallest position at which cumulative_bytes() reaches `bytes`. Throws fleetml::Error
  // when the trace delivers nothing at all (every sample is zero).
  double position_reaching(double bytes) const;

 private:
  Trace(std::string name, std::vector<double> kbps, std::vector<std::string> network);

  std::string name_;
  std::vector<double> kbps_;
  std::vector<double> prefix_bytes_;  // prefix_bytes_[i] = bytes of seconds [0, i)
  std::vector<std::string> network_;
};

// The traces of one scenario (e.g. "5g-driving"): every *.csv file of one folder.
struct Scenario {
  std::string name;
  std::vector<std::shared_ptr<const Trace>> traces;  // sorted by file name

  std::size_t duration_s() const;  // all traces together
};

// Loads every sub-folder of `dir` that holds *.csv files as a scenario named after the folder,
// sorted by name. Throws fleetml::Error when `dir` has no such folder or a file is malformed.
std::vector<Scenario> load_scenarios(const std::filesystem::path& dir);

}  // namespace fleetml::sim
