#pragma once

#include <filesystem>
#include <string>

#include "schemas/fleet.pb.h"

namespace fleetml::runtime {

// This machine's architecture as uname reports it ("x86_64", "aarch64"), "unknown" if it
// cannot. Never throws.
std::string machine_arch();

// Describes the machine's hardware as a v1::Device from what Linux exposes under `root` ("/"
// on a real machine, a fake tree in tests): arch (uname machine), cpu_model (x86
// /proc/cpuinfo "model name"; ARM "Model" or /proc/device-tree/model), cores (processors
// listed in /proc/cpuinfo, else the online count), clock_ghz (highest cpufreq
// cpuinfo_max_freq, else highest cpuinfo "cpu MHz"), ram_gb (MemTotal, 1e9 bytes), gpus
// (NVIDIA driver's /proc/driver/nvidia/gpus, Jetson integrated GPU from the device tree),
// l2_cache_bytes and last_level_cache_bytes (cpu0's level-2 and highest-level data or
// unified cache, /sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}),
// os (/etc/os-release PRETTY_NAME). Unknown numbers stay 0 and unknown text "unknown".
// The runtime configuration fields (runtime, threads, optimized) are the caller's to set.
// Never throws.
v1::Device detect_device(const std::filesystem::path& root = "/");

}  // namespace fleetml::runtime
