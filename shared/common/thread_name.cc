#include "shared/common/thread_name.h"

#include <string>

#include <pthread.h>

namespace fleetml {

void name_current_thread(std::string_view name) {
  constexpr std::size_t kMaxLength = 15;  // TASK_COMM_LEN - 1
  const std::string truncated(name.substr(0, kMaxLength));
  pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace fleetml
