#include "shared/runtime/test_modules.h"

#include <torch/script.h>

namespace fleetml::runtime::testing {

void save_test_module(const std::filesystem::path& file, const std::vector<TestTensor>& tensors,
                      const std::string& source) {
  torch::jit::Module m("__torch__.fleetml.testing.Model");
  m.register_attribute("training", c10::BoolType::get(), false);
  for (const TestTensor& t : tensors) {
    const at::Tensor value = torch::full(t.shape, t.fill);
    if (t.buffer) {
      m.register_buffer(t.name, value);
    } else {
      m.register_parameter(t.name, value, false);
    }
  }
  m.define(source);
  m.eval();
  m.save(file.string());
}

}  // namespace fleetml::runtime::testing
