#include "shared/common/thread_name.h"

#include <fstream>
#include <string>
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

TEST(ThreadName, NamesTheCallingThreadAsProcShowsIt) {
  std::string seen;
  std::thread([&] {
    name_current_thread("fleet-ingest");
    seen = comm_of_this_thread();
  }).join();
  EXPECT_EQ(seen, "fleet-ingest");
  EXPECT_NE(comm_of_this_thread(), "fleet-ingest");  // only that thread was renamed
}

TEST(ThreadName, TruncatesToTheKernelsFifteenCharacters) {
  std::string seen;
  std::thread([&] {
    name_current_thread("fleet-a-very-long-thread-name");
    seen = comm_of_this_thread();
  }).join();
  EXPECT_EQ(seen, "fleet-a-very-lo");
}

}  // namespace
}  // namespace fleetml
