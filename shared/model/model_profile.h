#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fleetml::model {

using Shape = std::vector<std::int64_t>;

// Parses "1x3x224x224" (also "1,3,224,224"); throws fleetml::Error on anything else,
// including zero, negative or absurd (> 2^31) dimensions.
Shape parse_shape(std::string_view text);
std::string format_shape(const Shape& shape);  // "1x3x224x224"
std::int64_t element_count(const Shape& shape);

// Normalized operator kinds. Estimators key their per-op costs on these names; `aten` keeps
// the exact operator for anyone who needs more detail.
namespace op {
inline constexpr std::string_view kConv = "conv";                     // dense or grouped conv
inline constexpr std::string_view kDepthwiseConv = "depthwise_conv";  // groups == in_channels > 1
inline constexpr std::string_view kLinear = "linear";                 // addmm/linear with weights
inline constexpr std::string_view kMatmul = "matmul";                 // matmul/bmm without weights
inline constexpr std::string_view kBatchNorm = "batch_norm";
inline constexpr std::string_view kNorm = "norm";                // layer/group/instance norm
inline constexpr std::string_view kActivation = "activation";    // relu, hardswish, silu, ...
inline constexpr std::string_view kElementwise = "elementwise";  // add, mul, ...
inline constexpr std::string_view kPool = "pool";
inline constexpr std::string_view kConcat = "concat";
inline constexpr std::string_view kReshape = "reshape";  // view, flatten: no data move
inline constexpr std::string_view kSoftmax = "softmax";
inline constexpr std::string_view kOther = "other";
}  // namespace op

// One operator call of the model's forward pass, characterized at batch 1 in float32.
struct Layer {
  std::string op;                   // one of fleetml::model::op
  std::string aten;                 // e.g. "aten::conv2d"
  std::vector<Shape> input_shapes;  // tensor inputs, in call order (weights included)
  Shape output_shape;
  std::int64_t macs = 0;         // multiply-accumulates
  std::int64_t param_bytes = 0;  // weights and bias read by this op
  std::int64_t bytes_moved = 0;  // activation bytes read + written + param_bytes
  // Convolution geometry; zero for other ops, except that pools have their window
  // (kernel_h x kernel_w: what each output reads; adaptive pools and spatial means the
  // ceiling of input over output size) and windowed pools their stride.
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::int64_t kernel_h = 0;
  std::int64_t kernel_w = 0;
  std::int64_t stride = 0;
  std::int64_t groups = 0;

  bool operator==(const Layer&) const = default;
};

// How a layer's cost scales with the device: the classes the roofline estimator and the
// simulator's truth model each price with their own rates. kView is a reshape (moves no data).
enum class CostClass { kConv, kPointwise, kGrouped, kDepthwise, kLinear, kMatmul, kMemory, kView };
CostClass cost_class(const Layer& layer);
// Any convolution: dense, pointwise, grouped or depthwise.
bool is_conv(CostClass cost);

// What the coordinator knows about a model artifact, derived from the TorchScript file.
struct ModelProfile {
  std::string name;   // catalog id, or the file stem
  Shape input_shape;  // one sample with leading 1, e.g. {1, 3, 224, 224}
  std::int64_t macs = 0;
  std::int64_t flops = 0;  // 2 x macs (torchvision/DIGA convention)
  std::int64_t params = 0;
  std::int64_t size_bytes = 0;  // artifact file size
  std::int64_t depth = 0;       // weighted layers: conv + linear
  std::int64_t param_bytes = 0;
  std::int64_t peak_activation_bytes = 0;  // largest single-op input + output at batch 1
  std::vector<Layer> layers;

  // What the model runs once frozen and optimized for inference by the characterizing
  // machine's LibTorch (oneDNN on x86_64): the operators it calls besides convolutions and
  // matrix products, recorded like `layers` (layout conversions to and from oneDNN, the
  // activations and normalizations that were not folded, pools, adds). Empty when not
  // characterized (a LibTorch without oneDNN, or an older profile).
  struct OptimizedGraph {
    std::string arch;  // uname machine of the characterizing LibTorch, e.g. "x86_64"
    std::vector<Layer> layers;
    bool operator==(const OptimizedGraph&) const = default;
  };
  OptimizedGraph optimized;

  bool operator==(const ModelProfile&) const = default;
};

// Convolutions and matrix products (the layers with MACs).
bool is_mac_layer(const Layer& layer);

// Whether the profile has the optimized graph of a runtime on `arch`; callers that find none
// apply their own folding rules to `layers`.
bool has_optimized_graph(const ModelProfile& profile, std::string_view arch);

// Calls f(const Layer&) for each operator call the optimized module makes: the profile's MAC
// layers, then its optimized graph's other operators (see has_optimized_graph).
template <typename F>
void for_each_optimized_call(const ModelProfile& profile, F&& f) {
  for (const Layer& l : profile.layers) {
    if (is_mac_layer(l)) f(l);
  }
  for (const Layer& l : profile.optimized.layers) f(l);
}

// JSON with the SPEC's keys (macs, flops, params, size_bytes, depth, layers, ...).
nlohmann::json to_json(const ModelProfile& profile);
// Throws fleetml::Error naming the offending key on malformed input.
ModelProfile profile_from_json(const nlohmann::json& j);

}  // namespace fleetml::model
