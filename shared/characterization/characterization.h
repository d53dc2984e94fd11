#pragma once

#include <filesystem>

#include "shared/model/model_profile.h"

namespace fleetml::characterization {

// Characterizes a TorchScript file from the file itself: loads it unoptimized in eval mode,
// counts parameters exactly, then runs one forward pass on zeros of `input` while recording
// every top-level ATen operator the model calls (nested calls inside an operator are not
// recorded, so aten::conv2d counts once, not again as aten::convolution).
//
// Each recorded operator becomes a model::Layer: normalized kind (model::op), input and
// output shapes, MACs computed from the shapes (convolution: output elements x in_channels /
// groups x kernel area; linear/addmm/mm/matmul/bmm: output elements x reduced dimension;
// everything else 0), bytes of parameters and buffers it reads, bytes moved (activations
// read and written plus parameter bytes; 0 for views), and convolution geometry.
// The profile's name is the file stem; flops = 2 x macs; depth counts conv and linear
// layers; size_bytes is the file size; peak_activation_bytes is the largest single-operator
// activation input + output (views excluded).
//
// Throws fleetml::Error naming the file when it cannot be read, is not TorchScript, or its
// forward pass fails on the given shape.
model::ModelProfile characterize(const std::filesystem::path& file, const model::Shape& input);

}  // namespace fleetml::characterization
