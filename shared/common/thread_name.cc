#include "shared/common/thread_name.h"

#include <pthread.h>

namespace fleetml {

namespace {
constexpr std::size_t kMaxLength = 15;  // TASK_COMM_LEN - 1
}

void name_current_thread(std::string_view name) {
  const std::string truncated(name.substr(0, kMaxLength));
  pthread_setname_np(pthread_self(), truncated.c_str());
}

std::string current_thread_name() {
  char name[kMaxLength + 1] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

}  // namespace fleetml
