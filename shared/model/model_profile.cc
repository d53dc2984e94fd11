#include "shared/model/model_profile.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"

namespace fleetml::model {
namespace {

constexpr std::int64_t kMaxDimension = std::int64_t{1} << 31;

nlohmann::json layer_to_json(const Layer& l) {
  nlohmann::json j = {{"op", l.op},
                      {"aten", l.aten},
                      {"input_shapes", l.input_shapes},
                      {"output_shape", l.output_shape},
                      {"macs", l.macs},
                      {"param_bytes", l.param_bytes},
                      {"bytes_moved", l.bytes_moved}};
  if (l.kernel_h > 0) {
    j["in_channels"] = l.in_channels;
    j["out_channels"] = l.out_channels;
    j["kernel"] = {l.kernel_h, l.kernel_w};
    j["stride"] = l.stride;
    j["groups"] = l.groups;
  }
  return j;
}

nlohmann::json layers_to_json(const std::vector<Layer>& layers) {
  nlohmann::json j = nlohmann::json::array();
  for (const Layer& l : layers) j.push_back(layer_to_json(l));
  return j;
}

template <typename T>
T get(const nlohmann::json& j, const char* key, const char* where) {
  auto it = j.find(key);
  if (it == j.end()) throw Error(std::string(where) + ": missing key '" + key + "'");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(std::string(where) + ": key '" + key + "' has the wrong type");
  }
}

template <typename T>
T get_or(const nlohmann::json& j, const char* key, T fallback, const char* where) {
  return j.contains(key) ? get<T>(j, key, where) : fallback;
}

Layer layer_from_json(const nlohmann::json& j) {
  constexpr const char* where = "layer";
  Layer l;
  l.op = get<std::string>(j, "op", where);
  l.aten = get_or<std::string>(j, "aten", "", where);
  l.input_shapes = get_or<std::vector<Shape>>(j, "input_shapes", {}, where);
  l.output_shape = get_or<Shape>(j, "output_shape", {}, where);
  l.macs = get<std::int64_t>(j, "macs", where);
  l.param_bytes = get_or<std::int64_t>(j, "param_bytes", 0, where);
  l.bytes_moved = get_or<std::int64_t>(j, "bytes_moved", 0, where);
  if (j.contains("kernel")) {
    const auto kernel = get<std::vector<std::int64_t>>(j, "kernel", where);
    if (kernel.size() != 2) throw Error("layer: 'kernel' must have two entries");
    l.kernel_h = kernel[0];
    l.kernel_w = kernel[1];
    l.in_channels = get<std::int64_t>(j, "in_channels", where);
    l.out_channels = get<std::int64_t>(j, "out_channels", where);
    l.stride = get<std::int64_t>(j, "stride", where);
    l.groups = get<std::int64_t>(j, "groups", where);
  }
  return l;
}

}  // namespace

Shape parse_shape(std::string_view text) {
  Shape shape;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find_first_of("x,", start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = text.substr(start, end - start);
    std::int64_t dim = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), dim);
    if (part.empty() || ec != std::errc{} || ptr != part.data() + part.size() || dim <= 0 ||
        dim > kMaxDimension) {
      throw Error("bad shape '" + std::string(text) +
                  "': expected positive dimensions like 1x3x224x224");
    }
    shape.push_back(dim);
    start = end + 1;
  }
  if (shape.empty() || shape.size() > 8) {
    throw Error("bad shape '" + std::string(text) + "': expected 1 to 8 dimensions");
  }
  return shape;
}

std::string format_shape(const Shape& shape) {
  std::string out;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += 'x';
    out += std::to_string(shape[i]);
  }
  return out;
}

std::int64_t element_count(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    // A negative dimension is refused too. No division: the roofline calls this for every
    // layer of every model at every re-plan.
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) {
      throw Error("shape " + format_shape(shape) + " has too many elements");
    }
  }
  return n;
}

nlohmann::json to_json(const ModelProfile& p) {
  nlohmann::json j = {{"name", p.name},
                      {"input_shape", p.input_shape},
                      {"macs", p.macs},
                      {"flops", p.flops},
                      {"params", p.params},
                      {"size_bytes", p.size_bytes},
                      {"depth", p.depth},
                      {"param_bytes", p.param_bytes},
                      {"peak_activation_bytes", p.peak_activation_bytes},
                      {"layers", layers_to_json(p.layers)}};
  if (!p.optimized.layers.empty()) {
    j["optimized"] = {{"arch", p.optimized.arch}, {"layers", layers_to_json(p.optimized.layers)}};
  }
  return j;
}

ModelProfile profile_from_json(const nlohmann::json& j) {
  constexpr const char* where = "model profile";
  if (!j.is_object()) throw Error("model profile: expected a JSON object");
  ModelProfile p;
  p.name = get_or<std::string>(j, "name", "", where);
  p.input_shape = get<Shape>(j, "input_shape", where);
  p.macs = get<std::int64_t>(j, "macs", where);
  p.flops = get<std::int64_t>(j, "flops", where);
  p.params = get<std::int64_t>(j, "params", where);
  p.size_bytes = get<std::int64_t>(j, "size_bytes", where);
  p.depth = get<std::int64_t>(j, "depth", where);
  p.param_bytes = get_or<std::int64_t>(j, "param_bytes", 0, where);
  p.peak_activation_bytes = get_or<std::int64_t>(j, "peak_activation_bytes", 0, where);
  for (const auto& l : get_or<nlohmann::json>(j, "layers", nlohmann::json::array(), where)) {
    p.layers.push_back(layer_from_json(l));
  }
  if (j.contains("optimized")) {
    const nlohmann::json& o = j.at("optimized");
    constexpr const char* owhere = "model profile: optimized";
    if (!o.is_object()) throw Error("model profile: 'optimized' must be an object");
    p.optimized.arch = get<std::string>(o, "arch", owhere);
    for (const auto& l : get<nlohmann::json>(o, "layers", owhere)) {
      p.optimized.layers.push_back(layer_from_json(l));
    }
  }
  return p;
}

bool is_mac_layer(const Layer& l) {
  return l.op == op::kConv || l.op == op::kDepthwiseConv || l.op == op::kLinear ||
         l.op == op::kMatmul;
}

bool has_optimized_graph(const ModelProfile& p, std::string_view arch) {
  return !p.optimized.layers.empty() && p.optimized.arch == arch;
}

CostClass cost_class(const Layer& l) {
  if (l.op == op::kDepthwiseConv) return CostClass::kDepthwise;
  if (l.op == op::kConv) {
    if (l.groups > 1)
      return l.groups == l.in_channels ? CostClass::kDepthwise : CostClass::kGrouped;
    return l.kernel_h * l.kernel_w == 1 ? CostClass::kPointwise : CostClass::kConv;
  }
  if (l.op == op::kLinear) return CostClass::kLinear;
  if (l.op == op::kMatmul) return CostClass::kMatmul;
  if (l.op == op::kReshape) return CostClass::kView;
  return CostClass::kMemory;
}

bool is_conv(CostClass cost) {
  return cost == CostClass::kConv || cost == CostClass::kPointwise || cost == CostClass::kGrouped ||
         cost == CostClass::kDepthwise;
}

}  // namespace fleetml::model
