#pragma once

#include <stdexcept>

namespace fleetml {

// The one exception type fleetml code throws for expected failures (bad input, I/O errors,
// broker or database trouble). Its message is a single line meant for a human; callers at the
// edges (message handlers, main) catch it, report it and keep going or exit non-zero.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace fleetml
