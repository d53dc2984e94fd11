#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "tests/support/child_process.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_probe.h"
#include "tests/support/test_env.h"

namespace fleetml::test {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(TestDir, IsFreshPerTestAndRemoved) {
  std::filesystem::path kept;
  {
    TestDir dir;
    kept = dir.path();
    EXPECT_TRUE(std::filesystem::is_directory(kept));
    EXPECT_THAT(kept.filename().string(), HasSubstr("TestDir.IsFreshPerTestAndRemoved"));
    file::write_atomic(dir / "x.txt", "x");
    TestDir other;
    EXPECT_NE(other.path(), kept);
  }
  EXPECT_FALSE(std::filesystem::exists(kept));
}

TEST(WaitUntil, ReturnsAsSoonAsThePredicateHolds) {
  int calls = 0;
  EXPECT_TRUE(wait_until([&] { return ++calls == 3; }, 10s, 1ms));
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(wait_until([] { return false; }, 20ms));
}

TEST(BinPath, FindsBuiltBinariesAndNamesMissingOnes) {
  EXPECT_TRUE(std::filesystem::is_regular_file(bin_path("fleetctl")));
  EXPECT_THROW(bin_path("no-such-binary"), Error);
}

TEST(ChildProcess, ReportsExitCodesAndWritesItsLog) {
  TestDir dir;
  ChildProcess::Options options;
  options.log_path = dir / "child.log";
  options.env = {"GREETING=hello from the child"};
  ChildProcess child("sh", {"-c", "echo \"$GREETING\"; echo oops >&2; exit 3"}, options);
  const auto status = child.wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 3);
  EXPECT_FALSE(status->success());
  EXPECT_EQ(status->describe(), "exit 3");
  EXPECT_EQ(child.log(), "hello from the child\noops\n");
  EXPECT_FALSE(child.running());
}

TEST(ChildProcess, KillNineAndTimeouts) {
  ChildProcess child("sleep", {"60"});
  EXPECT_TRUE(child.running());
  EXPECT_FALSE(child.wait(50ms).has_value());
  child.kill();
  const auto status = child.wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->exited);
  EXPECT_EQ(status->signal, SIGKILL);
  EXPECT_THAT(status->describe(), HasSubstr("killed by signal 9"));
}

TEST(ChildProcess, StopEscalatesToSigkillWhenSigtermIsIgnored) {
  TestDir dir;
  ChildProcess::Options options;
  options.log_path = dir / "log";
  ChildProcess child("sh", {"-c", "trap '' TERM; echo ready; while :; do sleep 1; done"}, options);
  ASSERT_TRUE(wait_until([&] { return child.log() == "ready\n"; }, 10s));
  const ExitStatus status = child.stop(200ms);
  EXPECT_EQ(status.signal, SIGKILL);
}

TEST(ChildProcess, FailsClearlyForMissingPrograms) {
  EXPECT_THROW(ChildProcess("no-such-program-fleetml", {}), Error);
  try {
    ChildProcess("/nonexistent/prog", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot run /nonexistent/prog"));
  }
}

TEST(MosquittoBroker, RestartsOnTheSamePortAndKeepsRetainedWithPersistence) {
  MosquittoBroker broker({.persistence = true, .extra_config = {}});
  EXPECT_TRUE(broker.running());
  EXPECT_EQ(broker.uri(), "mqtt://127.0.0.1:" + std::to_string(broker.port()));
  {
    MqttProbe probe(broker.uri(), {"t/#"});
    probe.client().publish_wait({"t/retained", "kept", 1, true, {}, {}});
  }
  const int port = broker.port();
  broker.restart();
  EXPECT_EQ(broker.port(), port);
  MqttProbe probe(broker.uri(), {});
  const auto m = probe.wait_for_retained("t/retained", 10s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->payload, "kept");
  EXPECT_THAT(broker.log(), HasSubstr("mosquitto version"));
}

TEST(MosquittoBroker, WithoutPersistenceARestartForgetsEverything) {
  MosquittoBroker broker;
  {
    MqttProbe probe(broker.uri(), {});
    probe.client().publish_wait({"t/retained", "gone", 1, true, {}, {}});
    ASSERT_TRUE(probe.wait_for_retained("t/retained", 10s).has_value());
  }
  broker.kill();
  EXPECT_FALSE(broker.running());
  broker.start();
  MqttProbe probe(broker.uri(), {});
  EXPECT_FALSE(probe.wait_for_retained("t/retained", 500ms).has_value());
}

TEST(MqttProbe, CollectsMessagesInOrderAndWaitsForMatches) {
  MosquittoBroker broker;
  MqttProbe probe(broker.uri(), {"a/#"});
  for (int i = 0; i < 5; ++i) {
    probe.client().publish("a/" + std::to_string(i % 2), std::to_string(i), 1);
  }
  ASSERT_TRUE(probe.wait_for_count(5, 10s));
  const auto all = probe.messages();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(all[i].payload, std::to_string(i));
  EXPECT_EQ(probe.messages_on("a/1").size(), 2u);
  const auto four = probe.wait_for("a/0", 1s, [](const auto& m) { return m.payload == "4"; });
  ASSERT_TRUE(four.has_value());
  EXPECT_FALSE(probe.wait_for("a/0", 50ms, [](const auto& m) { return m.payload == "9"; }));
  probe.clear();
  EXPECT_EQ(probe.count(), 0u);
}

}  // namespace
}  // namespace fleetml::test
