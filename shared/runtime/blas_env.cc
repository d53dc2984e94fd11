// ensure_sleeping_blas_workers (runtime.h): no LibTorch here, only the process environment.
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

#include "shared/common/log.h"
#include "shared/runtime/runtime.h"

namespace fleetml::runtime {

void ensure_sleeping_blas_workers(char** argv) {
  if (std::getenv(kBlasThreadTimeoutVariable) != nullptr) return;
  if (::setenv(kBlasThreadTimeoutVariable, kBlasThreadTimeout, 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  const int error = errno;  // execv returns only on failure; OpenBLAS kept its default
  ::unsetenv(kBlasThreadTimeoutVariable);
  log::warn("runtime", "cannot re-execute with OpenBLAS workers that sleep; 2-thread tails stay",
            {{"error", std::strerror(error)}});
}

std::string blas_thread_timeout() {
  const char* value = std::getenv(kBlasThreadTimeoutVariable);
  return value == nullptr ? "" : value;
}

}  // namespace fleetml::runtime
