#pragma once

#include <array>
#include <string_view>

namespace fleetml::sim {

// DIGA's mean file-download throughputs of the UCC datasets (background.md, "Transfer time"),
// keyed by the scenario folder names of data/traces. Mbit = 1e6 bit.
struct DigaRate {
  std::string_view scenario;
  std::string_view label;
  double mbps;
};

inline constexpr std::array<DigaRate, 4> kDigaRates{{
    {"4g-static", "4G static", 42.6},
    {"5g-static", "5G static", 66.9},
    {"4g-driving", "4G mobility", 22.3},
    {"5g-driving", "5G mobility", 28.5},
}};

// Seconds to move `bytes` at `mbps`: bytes x 8 / (mbps x 1e6), DIGA's transfer-time rule.
inline double transfer_seconds(double bytes, double mbps) { return bytes * 8.0 / (mbps * 1e6); }

}  // namespace fleetml::sim
