#include "shared/runtime/device_info.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/utsname.h>

namespace fleetml::runtime {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\0'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

double to_double(std::string_view s) {
  s = trim(s);
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// "key : value" lines (cpuinfo, meminfo, os-release with '='), in order.
std::vector<std::pair<std::string, std::string>> key_values(const std::string& text, char sep) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto pos = line.find(sep);
    if (pos == std::string::npos) continue;
    out.emplace_back(std::string(trim(std::string_view(line).substr(0, pos))),
                     std::string(trim(std::string_view(line).substr(pos + 1))));
  }
  return out;
}

std::string first_value(const std::vector<std::pair<std::string, std::string>>& kv,
                        std::string_view key) {
  for (const auto& [k, v] : kv) {
    if (k == key && !v.empty()) return v;
  }
  return "";
}

std::vector<fs::path> children(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

double max_cpufreq_ghz(const fs::path& root) {
  double khz = 0;
  for (const fs::path& cpu : children(root / "sys/devices/system/cpu")) {
    const std::string name = cpu.filename().string();
    if (!name.starts_with("cpu") || name.size() == 3 ||
        !std::all_of(name.begin() + 3, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    khz = std::max(khz, to_double(read_text(cpu / "cpufreq/cpuinfo_max_freq")));
  }
  return khz / 1e6;
}

// sysfs cache size, "32K" / "1024K" / "2M" (binary units), in bytes; 0 when malformed.
std::uint64_t cache_size_bytes(std::string_view text) {
  text = trim(text);
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc()) return 0;
  const std::string_view unit = text.substr(static_cast<std::size_t>(end - text.data()));
  if (unit.empty()) return v;
  if (unit == "K") return v << 10;
  if (unit == "M") return v << 20;
  if (unit == "G") return v << 30;
  return 0;
}

// cpu0's caches (sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}): the level-2 and
// the highest-level data or unified cache. Instruction caches do not hold activations.
void add_caches(const fs::path& root, v1::Device& device) {
  int last_level = 0;
  for (const fs::path& index : children(root / "sys/devices/system/cpu/cpu0/cache")) {
    if (!index.filename().string().starts_with("index")) continue;
    const std::string_view type = trim(read_text(index / "type"));
    if (type != "Data" && type != "Unified") continue;
    const auto level = static_cast<int>(to_double(read_text(index / "level")));
    const std::uint64_t bytes = cache_size_bytes(read_text(index / "size"));
    if (level < 1 || bytes == 0) continue;
    if (level == 2) device.set_l2_cache_bytes(bytes);
    if (level >= last_level) {
      last_level = level;
      device.set_last_level_cache_bytes(bytes);
    }
  }
}

// CUDA cores of Jetson modules (NVIDIA data sheets), keyed by a device-tree model substring.
std::uint32_t jetson_gpu_cores(std::string_view model) {
  static constexpr std::pair<std::string_view, std::uint32_t> kCores[] = {
      {"AGX Orin", 2048}, {"Orin NX", 1024}, {"Orin Nano", 1024}, {"AGX Xavier", 512},
      {"Xavier NX", 384}, {"TX2", 256},      {"Nano", 128},       {"TX1", 256}};
  for (const auto& [key, cores] : kCores) {
    if (model.find(key) != std::string_view::npos) return cores;
  }
  return 0;
}

void add_gpus(const fs::path& root, const std::string& board_model, double ram_gb,
              v1::Device& device) {
  for (const fs::path& gpu : children(root / "proc/driver/nvidia/gpus")) {
    const std::string name = first_value(key_values(read_text(gpu / "information"), ':'), "Model");
    device.add_gpus()->set_name(name.empty() ? "NVIDIA GPU" : name);
  }
  if (board_model.find("Jetson") == std::string::npos) return;
  // The integrated GPU shares the board's RAM; its clock is the devfreq maximum (Hz).
  v1::Gpu* gpu = device.add_gpus();
  gpu->set_name(board_model + " integrated GPU");
  gpu->set_memory_gb(ram_gb);
  gpu->set_cores(jetson_gpu_cores(board_model));
  for (const fs::path& dev : children(root / "sys/class/devfreq")) {
    if (dev.filename().string().find("gpu") == std::string::npos) continue;
    gpu->set_clock_ghz(to_double(read_text(dev / "max_freq")) / 1e9);
  }
}

}  // namespace

std::string machine_arch() {
  struct utsname uts {};
  return uname(&uts) == 0 ? uts.machine : "unknown";
}

v1::Device detect_device(const fs::path& root) {
  v1::Device device;
  device.set_arch(machine_arch());

  const auto cpuinfo = key_values(read_text(root / "proc/cpuinfo"), ':');
  const std::string board_model(trim(read_text(root / "proc/device-tree/model")));
  std::string cpu = first_value(cpuinfo, "model name");  // x86
  if (cpu.empty()) cpu = first_value(cpuinfo, "Model");  // Raspberry Pi OS
  if (cpu.empty()) cpu = board_model;                    // other ARM boards
  if (cpu.empty()) cpu = first_value(cpuinfo, "Hardware");
  device.set_cpu_model(cpu.empty() ? "unknown" : cpu);

  std::uint32_t processors = 0;
  double mhz = 0;
  for (const auto& [k, v] : cpuinfo) {
    if (k == "processor") ++processors;
    if (k == "cpu MHz") mhz = std::max(mhz, to_double(v));
  }
  device.set_cores(processors > 0 ? processors : std::thread::hardware_concurrency());
  const double cpufreq_ghz = max_cpufreq_ghz(root);
  device.set_clock_ghz(cpufreq_ghz > 0 ? cpufreq_ghz : mhz / 1000.0);

  const std::string mem_total = first_value(key_values(read_text(root / "proc/meminfo"), ':'),
                                            "MemTotal");  // "16318412 kB"
  device.set_ram_gb(to_double(mem_total.substr(0, mem_total.find(' '))) * 1024.0 / 1e9);

  add_gpus(root, board_model, device.ram_gb(), device);
  add_caches(root, device);

  std::string os = first_value(key_values(read_text(root / "etc/os-release"), '='), "PRETTY_NAME");
  if (os.size() >= 2 && os.front() == '"' && os.back() == '"') os = os.substr(1, os.size() - 2);
  device.set_os(os.empty() ? "unknown" : os);
  return device;
}

}  // namespace fleetml::runtime
