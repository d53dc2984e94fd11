#include "shared/common/thread_name.h"

#include <fstream>
#include <string>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace fleetml {
namespace {

std::string comm_of_this_thread() {
  std::ifstream in("/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// The name /proc shows for a new thread that names itself `name`.
std::string name_seen_in_a_new_thread(std::string_view name) {
  std::string seen;
  std::thread([&] {
    name_current_thread(name);
    seen = comm_of_this_thread();
  }).join();
  return seen;
}

TEST(ThreadName, NamesTheCallingThreadAsProcShowsIt) {
  EXPECT_EQ(name_seen_in_a_new_thread("fleet-ingest"), "fleet-ingest");
  EXPECT_NE(comm_of_this_thread(), "fleet-ingest");  // only that thread was renamed
}

TEST(ThreadName, TruncatesToTheKernelsFifteenCharacters) {
  EXPECT_EQ(name_seen_in_a_new_thread("fleet-a-very-long-thread-name"), "fleet-a-very-lo");
}

}  // namespace
}  // namespace fleetml
