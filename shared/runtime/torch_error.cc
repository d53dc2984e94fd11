#include "shared/runtime/torch_error.h"

#include <vector>

namespace fleetml::runtime {

std::string one_line_error(std::string_view what) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= what.size()) {
    std::size_t end = what.find('\n', start);
    if (end == std::string_view::npos) end = what.size();
    std::string_view line = what.substr(start, end - start);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    if (!line.empty()) lines.push_back(line);
    start = end + 1;
  }
  if (lines.empty()) return "unknown error";
  const bool traceback = what.find("Traceback of TorchScript") != std::string_view::npos;
  return std::string(traceback ? lines.back() : lines.front());
}

}  // namespace fleetml::runtime
