#pragma once

#include <string>
#include <string_view>

namespace fleetml::runtime {

// Reduces a LibTorch exception text to one line for a fleetml::Error: the TorchScript
// interpreter's traceback is dropped in favour of its final "SomeError: reason" line, and a
// plain multi-line message keeps its first line. Needs no LibTorch.
std::string one_line_error(std::string_view what);

}  // namespace fleetml::runtime
