#pragma once

// LibTorch's preparation of a module for inference, shared by the runtime (which runs it) and
// the characterization (which records what it runs). Includes LibTorch: for .cc files that
// already use it, never for public headers.
#include <torch/script.h>

namespace fleetml::runtime {

// torch::jit::freeze (parameters become constants; batch norms after convolutions fold into
// them), then torch::jit::optimize_for_inference (with oneDNN: weights prepacked, supported
// operators moved to oneDNN tensors with layout conversions around the rest). `module` must
// be in eval mode; it is not modified.
torch::jit::Module optimize_for_inference(const torch::jit::Module& module);

}  // namespace fleetml::runtime
