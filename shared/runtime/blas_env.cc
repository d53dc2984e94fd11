// The BLAS build and its environment (runtime.h): no LibTorch here, only symbols the process
// loaded and its environment.
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <dlfcn.h>
#include <unistd.h>

#include "shared/common/log.h"
#include "shared/runtime/runtime.h"

namespace fleetml::runtime {

std::string blas_threading() {
  using GetParallel = int (*)();
  void* symbol = dlsym(RTLD_DEFAULT, "openblas_get_parallel");
  if (symbol == nullptr) return "";
  switch (reinterpret_cast<GetParallel>(symbol)()) {
    case 0:
      return "sequential";
    case 1:
      return "pthreads";
    case 2:
      return "openmp";
    default:
      return "";
  }
}

void ensure_sleeping_blas_workers(char** argv) {
  if (blas_threading() != "pthreads") return;
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
