#include "shared/characterization/characterization.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <ATen/record_function.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/interpreter.h>
#include <torch/script.h>

#include "shared/common/error.h"
#include "shared/runtime/device_info.h"
#include "shared/runtime/optimize.h"
#include "shared/runtime/torch_error.h"

namespace fleetml::characterization {
namespace {

namespace op = model::op;

// ATen name without namespace and in-place suffix: "aten::relu_" -> "relu".
std::string base_name(std::string_view aten) {
  if (auto pos = aten.rfind("::"); pos != std::string_view::npos) aten.remove_prefix(pos + 2);
  while (aten.size() > 1 && aten.back() == '_') aten.remove_suffix(1);
  while (!aten.empty() && aten.front() == '_') aten.remove_prefix(1);
  return std::string(aten);
}

bool is_one_of(const std::string& name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool is_conv(const std::string& base) {
  return is_one_of(base, {"conv1d", "conv2d", "conv3d", "convolution", "conv_transpose1d",
                          "conv_transpose2d", "conv_transpose3d"});
}

bool is_transposed_conv(const std::string& base) { return base.starts_with("conv_transpose"); }

bool is_matrix_product(const std::string& base) {
  return is_one_of(base, {"linear", "addmm", "mm", "matmul", "bmm", "baddbmm"});
}

// Ops that return their input or a view of it, or only allocate: no data moves.
bool moves_no_data(const std::string& base) {
  return is_one_of(base, {"empty",         "empty_like",
                          "empty_strided", "as_strided",
                          "view",          "reshape",
                          "flatten",       "squeeze",
                          "unsqueeze",     "permute",
                          "transpose",     "t",
                          "expand",        "select",
                          "slice",         "detach",
                          "alias",         "unflatten",
                          "dropout",       "feature_dropout",
                          "alpha_dropout", "feature_alpha_dropout",
                          "identity",      "view_as",
                          "expand_as"});
}

std::string_view kind_of(const std::string& base) {
  if (is_matrix_product(base)) return op::kMatmul;  // refined to linear when it has weights
  if (base == "batch_norm") return op::kBatchNorm;
  if (is_one_of(base, {"layer_norm", "group_norm", "instance_norm"})) return op::kNorm;
  if (is_one_of(base, {"relu", "relu6", "hardtanh", "hardswish", "hardsigmoid", "silu", "sigmoid",
                       "tanh", "gelu", "leaky_relu", "elu", "selu", "mish", "softplus", "prelu",
                       "clamp", "clamp_min", "threshold"})) {
    return op::kActivation;
  }
  if (is_one_of(base, {"add", "sub", "mul", "div", "rsub", "pow", "sqrt", "rsqrt", "exp", "neg",
                       "abs", "maximum", "minimum", "where"})) {
    return op::kElementwise;
  }
  if (base.find("pool") != std::string::npos || base == "mean") return op::kPool;
  if (is_one_of(base, {"cat", "concat", "stack"})) return op::kConcat;
  if (is_one_of(base, {"view", "reshape", "flatten", "squeeze", "unsqueeze", "permute", "transpose",
                       "t", "unflatten", "view_as"})) {
    return op::kReshape;
  }
  if (is_one_of(base, {"softmax", "log_softmax"})) return op::kSoftmax;
  return op::kOther;
}

model::Shape shape_of(const at::Tensor& t) {
  const auto sizes = t.sizes();
  return model::Shape(sizes.begin(), sizes.end());
}

std::int64_t bytes_of(const at::Tensor& t) {
  return t.is_sparse() ? 0 : static_cast<std::int64_t>(t.nbytes());
}

// Argument i as an integer, or element `element` of an integer list (its last element when
// shorter: [3] means 3 x 3); 0 when absent or of another type.
std::int64_t int_arg(c10::ArrayRef<const c10::IValue> in, std::size_t i, std::size_t element = 0) {
  if (i >= in.size()) return 0;
  if (in[i].isInt()) return in[i].toInt();
  if (in[i].isIntList()) {
    const auto list = in[i].toIntVector();
    return list.empty() ? 0 : list[std::min(element, list.size() - 1)];
  }
  return 0;
}

bool is_windowed_pool(const std::string& base) {
  return base.find("pool") != std::string::npos && !base.starts_with("adaptive");
}

// What one top-level operator call looked like. Filled in two steps: inputs when it starts
// (tensors are summarized at once, never kept alive), outputs when it ends.
struct Call {
  model::Layer layer;
  std::int64_t activation_in_bytes = 0;
  std::vector<model::Shape> weight_shapes;  // shapes of the parameter inputs, in order
  std::vector<model::Shape> activation_shapes;
};

class Recorder {
 public:
  explicit Recorder(const std::unordered_set<const void*>& weights) : weights_(weights) {}

  void start(const at::RecordFunction& fn) {
    if (++depth_ != 1) return;
    current_ = Call{};
    current_.layer.aten = fn.name();
    const auto inputs = fn.inputs();
    for (const c10::IValue& v : inputs) add_input(v);
    const std::string base = base_name(current_.layer.aten);
    if (is_conv(base)) {
      // conv{1,2,3}d / conv_transpose: (input, weight, bias, stride, padding, ...) with
      // groups at 6; convolution: (..., transposed, output_padding, groups) at 8.
      current_.layer.stride = int_arg(inputs, 3);
      current_.layer.groups = int_arg(inputs, base == "convolution" ? 8 : 6);
    } else if (is_windowed_pool(base)) {
      // {max,avg}_pool{1,2,3}d(input, kernel_size, stride, ...); stride defaults to the kernel.
      current_.layer.kernel_h = int_arg(inputs, 1);
      current_.layer.kernel_w = int_arg(inputs, 1, 1);
      current_.layer.stride = int_arg(inputs, 2);
      if (current_.layer.stride == 0) current_.layer.stride = current_.layer.kernel_h;
    }
  }

  void end(const at::RecordFunction& fn) {
    if (depth_-- != 1) return;
    std::int64_t out_bytes = 0;
    bool has_output = false;
    for (const c10::IValue& v : fn.outputs()) {
      for_each_tensor(v, [&](const at::Tensor& t) {
        if (!has_output) current_.layer.output_shape = shape_of(t);
        has_output = true;
        out_bytes += bytes_of(t);
      });
    }
    if (!has_output) return;  // scalar and list helpers are not layers
    finish(out_bytes);
    layers_.push_back(std::move(current_.layer));
  }

  std::vector<model::Layer> take_layers() { return std::move(layers_); }
  std::int64_t peak_activation_bytes() const { return peak_activation_bytes_; }

 private:
  template <typename F>
  static void for_each_tensor(const c10::IValue& v, F&& f) {
    if (v.isTensor()) {
      if (v.toTensor().defined()) f(v.toTensor());
    } else if (v.isTensorList()) {
      for (const at::Tensor& t : v.toTensorVector()) f(t);
    } else if (v.isList()) {
      for (const c10::IValue& e : v.toListRef()) for_each_tensor(e, f);
    } else if (v.isTuple()) {
      for (const c10::IValue& e : v.toTupleRef().elements()) for_each_tensor(e, f);
    }
  }

  void add_input(const c10::IValue& v) {
    for_each_tensor(v, [&](const at::Tensor& t) {
      model::Shape shape = shape_of(t);
      current_.layer.input_shapes.push_back(shape);
      if (t.has_storage() && weights_.contains(t.data_ptr())) {
        current_.layer.param_bytes += bytes_of(t);
        current_.weight_shapes.push_back(std::move(shape));
      } else {
        current_.activation_in_bytes += bytes_of(t);
        current_.activation_shapes.push_back(std::move(shape));
      }
    });
  }

  void finish(std::int64_t out_bytes) {
    model::Layer& l = current_.layer;
    const std::string base = base_name(l.aten);
    l.op = std::string(kind_of(base));
    const auto& in = l.input_shapes;
    const std::int64_t out_elements = model::element_count(l.output_shape);
    if (is_conv(base) && in.size() >= 2 && in[0].size() >= 3 && in[1].size() >= 3) {
      // weight: [Cout, Cin/groups, k...] (transposed: [Cin, Cout/groups, k...]).
      const model::Shape& w = in[1];
      std::int64_t kernel_area = 1;
      for (std::size_t i = 2; i < w.size(); ++i) kernel_area *= w[i];
      if (l.groups <= 0) l.groups = 1;
      l.in_channels = in[0][1];
      l.kernel_h = w[2];
      l.kernel_w = w.size() > 3 ? w[3] : 1;
      if (is_transposed_conv(base)) {
        l.out_channels = w[1] * l.groups;
        l.macs = model::element_count(in[0]) * w[1] * kernel_area;
      } else {
        l.out_channels = w[0];
        l.macs = out_elements * w[1] * kernel_area;
      }
      const bool depthwise = l.groups > 1 && l.groups == l.in_channels;
      l.op = std::string(depthwise ? op::kDepthwiseConv : op::kConv);
    } else if (is_matrix_product(base)) {
      // The reduced dimension: last of the first matrix operand (addmm/baddbmm: the second).
      const std::size_t a = (base == "addmm" || base == "baddbmm") ? 1 : 0;
      if (in.size() > a && !in[a].empty()) l.macs = out_elements * in[a].back();
      if (!current_.weight_shapes.empty()) l.op = std::string(op::kLinear);
    } else if (l.op == op::kPool && l.kernel_h == 0 && !current_.activation_shapes.empty() &&
               current_.activation_shapes.front().size() == 4) {
      // Adaptive pools and mean over the spatial dimensions: the window each output covers.
      const model::Shape& x = current_.activation_shapes.front();
      const model::Shape& y = l.output_shape;
      const auto window = [](std::int64_t in, std::int64_t out) {
        return out > 0 ? (in + out - 1) / out : in;
      };
      const bool spatial = y.size() == 4;
      l.kernel_h = window(x[2], spatial ? y[2] : 1);
      l.kernel_w = window(x[3], spatial ? y[3] : 1);
    }
    if (moves_no_data(base)) return;  // bytes_moved stays 0; no new activation either
    const std::int64_t activation_bytes = current_.activation_in_bytes + out_bytes;
    l.bytes_moved = activation_bytes + l.param_bytes;
    peak_activation_bytes_ = std::max(peak_activation_bytes_, activation_bytes);
  }

  const std::unordered_set<const void*>& weights_;
  int depth_ = 0;
  Call current_;
  std::vector<model::Layer> layers_;
  std::int64_t peak_activation_bytes_ = 0;
};

// RecordFunction callbacks are plain function pointers; the recorder of the characterization
// running on this thread is reached through a thread-local.
thread_local Recorder* t_recorder = nullptr;

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (t_recorder != nullptr) t_recorder->start(fn);
  return nullptr;
}

void on_end(const at::RecordFunction& fn, at::ObserverContext*) {
  if (t_recorder != nullptr) t_recorder->end(fn);
}

// Installs the callbacks for the lifetime of the object, on this thread only.
class Recording {
 public:
  explicit Recording(Recorder& recorder) {
    t_recorder = &recorder;
    handle_ = at::addThreadLocalCallback(at::RecordFunctionCallback(&on_start, &on_end)
                                             .needsInputs(true)
                                             .needsOutputs(true)
                                             .scopes({at::RecordScope::FUNCTION}));
  }
  ~Recording() {
    at::removeCallback(handle_);
    t_recorder = nullptr;
  }
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

 private:
  at::CallbackHandle handle_;
};

// Forward-pass errors as one-line fleetml::Errors naming the file and the input shape.
template <typename F>
void forward_or_throw(const std::string& where, const model::Shape& input, F&& run) {
  try {
    run();
  } catch (const c10::Error& e) {
    throw Error(where + ": forward pass on " + model::format_shape(input) +
                " failed: " + runtime::one_line_error(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Error(where + ": forward pass on " + model::format_shape(input) +
                " failed: " + runtime::one_line_error(e.what()));
  }
}

// The operators of the module frozen and optimized as the runtime does it, other than
// convolutions and matrix products (oneDNN's convolutions are JIT operators that
// RecordFunction does not see; the unoptimized pass has every MAC already). Recorded on the
// third call, once the profiling executor has settled on its plan.
std::vector<model::Layer> optimized_operators(const torch::jit::Module& module,
                                              const at::Tensor& zeros) {
  torch::jit::Module optimized = runtime::optimize_for_inference(module);
  for (int i = 0; i < 2; ++i) optimized.forward({zeros});
  const std::unordered_set<const void*> no_weights;  // frozen: weights are constants
  Recorder recorder(no_weights);
  {
    Recording recording(recorder);
    optimized.forward({zeros});
  }
  std::vector<model::Layer> layers = recorder.take_layers();
  // Also dropped: oneDNN convolutions' output allocations, which the convolution's own
  // costs cover.
  std::erase_if(layers, [](const model::Layer& l) {
    return model::is_mac_layer(l) || base_name(l.aten).starts_with("empty");
  });
  return layers;
}

}  // namespace

model::ModelProfile characterize(const std::filesystem::path& file, const model::Shape& input) {
  const std::string where = file.string();
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) throw Error(where + ": cannot read: " + ec.message());

  torch::jit::Module module;
  try {
    module = torch::jit::load(file.string(), torch::kCPU);
  } catch (const c10::Error& e) {
    throw Error(where + ": not a loadable TorchScript file: " +
                runtime::one_line_error(e.what_without_backtrace()));
  }
  module.eval();

  model::ModelProfile profile;
  profile.name = file.stem().string();
  profile.input_shape = input;
  profile.size_bytes = static_cast<std::int64_t>(size);
  // Counted on the unoptimized module: freezing would turn parameters into constants.
  std::unordered_set<const void*> weights;
  for (const at::Tensor& p : module.parameters()) {
    profile.params += p.numel();
    profile.param_bytes += bytes_of(p);
    weights.insert(p.data_ptr());
  }
  for (const at::Tensor& b : module.buffers()) {
    if (b.has_storage()) weights.insert(b.data_ptr());
  }

  Recorder recorder(weights);
  torch::NoGradGuard no_grad;
  const at::Tensor zeros = torch::zeros(input);
  forward_or_throw(where, input, [&] {
    // The graph as written, inlined, run by the interpreter itself: the graph executor
    // would rewrite it first (e.g. addmm into mm + add) and count different operators.
    std::shared_ptr<torch::jit::Graph> graph = module.get_method("forward").graph()->copy();
    torch::jit::Inline(*graph);
    const torch::jit::Code code(graph, "forward");
    torch::jit::Stack stack{module._ivalue(), zeros};
    Recording recording(recorder);
    torch::jit::InterpreterState(code).run(stack);
  });
  profile.layers = recorder.take_layers();
  if (at::hasMKLDNN()) {
    forward_or_throw(where, input, [&] {
      profile.optimized.layers = optimized_operators(module, zeros);
      profile.optimized.arch = runtime::machine_arch();
    });
  }
  profile.peak_activation_bytes = recorder.peak_activation_bytes();
  for (const model::Layer& l : profile.layers) {
    profile.macs += l.macs;
    if (l.op == op::kConv || l.op == op::kDepthwiseConv || l.op == op::kLinear) ++profile.depth;
  }
  profile.flops = 2 * profile.macs;
  return profile;
}

}  // namespace fleetml::characterization
