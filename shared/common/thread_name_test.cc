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
  std::string seen_by_proc;
  std::string seen_by_pthread;
  std::thread([&] {
    name_current_thread("fleet-ingest");
    seen_by_proc = comm_of_this_thread();
    seen_by_pthread = current_thread_name();
  }).join();
  EXPECT_EQ(seen_by_proc, "fleet-ingest");
  EXPECT_EQ(seen_by_pthread, "fleet-ingest");
  EXPECT_NE(current_thread_name(), "fleet-ingest");  // only that thread was renamed
}

TEST(ThreadName, TruncatesToTheKernelsFifteenCharacters) {
  std::string seen;
  std::thread([&] {
    name_current_thread("fleet-a-very-long-thread-name");
    seen = current_thread_name();
  }).join();
  EXPECT_EQ(seen, "fleet-a-very-lo");
}

}  // namespace
}  // namespace fleetml
