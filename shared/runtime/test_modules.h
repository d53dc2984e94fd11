#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "shared/model/model_profile.h"

namespace fleetml::runtime::testing {

// A parameter or buffer of a test module, filled with one value.
struct TestTensor {
  std::string name;
  model::Shape shape;
  float fill = 0.1f;
  bool buffer = false;  // registered as a buffer (like batch-norm running stats)
};

// Test-only (library fleetml_runtime_test_modules): builds a TorchScript module the way a
// scripted model looks (a `training` attribute, eval mode) with the given tensors and
// TorchScript `source` (its methods, e.g. "def forward(self, x):\n  return x\n"), and saves it
// to `file`, so tests can characterize and run real TorchScript with hand-computable figures.
void save_test_module(const std::filesystem::path& file, const std::vector<TestTensor>& tensors,
                      const std::string& source);

}  // namespace fleetml::runtime::testing
