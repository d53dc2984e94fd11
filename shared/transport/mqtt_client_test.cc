// MqttClient against a real mosquitto (tests/support/MosquittoBroker), no mocks.
#include "shared/transport/mqtt_client.h"

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "shared/common/error.h"
#include "tests/support/child_process.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_probe.h"
#include "tests/support/test_env.h"

namespace fleetml::transport {
namespace {

using test::MosquittoBroker;
using test::MqttProbe;
using test::unique_client_id;
using test::wait_until;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr auto kWait = 20s;  // generous: the machine is shared

ClientOptions options_for(const MosquittoBroker& broker, const std::string& what) {
  ClientOptions o;
  o.broker_uri = broker.uri();
  o.client_id = unique_client_id(what);
  return o;
}

// Thread-safe record of what a handler saw.
class Inbox {
 public:
  MqttClient::Handler handler() {
    return [this](const Message& m) {
      std::lock_guard lock(mutex_);
      messages_.push_back(m);
    };
  }
  std::vector<Message> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }
  bool wait_for(std::size_t n) {
    return wait_until([&] { return size() >= n; }, kWait);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Message> messages_;
};

std::string random_bytes(std::size_t n) {
  std::mt19937 rng(42);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// A broker, a subscriber recording `filter` into `inbox`, and a publisher, all connected.
struct PubSub {
  explicit PubSub(const std::string& filter, int pub_max_inflight = ClientOptions{}.max_inflight)
      : sub(options_for(broker, "sub")), pub(publisher_options(broker, pub_max_inflight)) {
    sub.subscribe(filter, 1, inbox.handler());
    MqttClient::connect_all({&sub, &pub});
  }
  static ClientOptions publisher_options(const MosquittoBroker& broker, int max_inflight) {
    ClientOptions o = options_for(broker, "pub");
    o.max_inflight = max_inflight;
    return o;
  }

  MosquittoBroker broker;
  Inbox inbox;
  MqttClient sub;
  MqttClient pub;
};

TEST(MqttClient, PublishesAndReceivesBinaryPayloadsAtEachQos) {
  PubSub t("t/data");
  auto& [broker, inbox, sub, pub] = t;
  ASSERT_TRUE(sub.connected());

  const std::string binary("a\0b\xff", 4);
  pub.publish("t/data", binary, 0);
  pub.publish("t/data", "qos1", 1);
  pub.publish_wait({"t/data", "qos2", 2, false, {}, {}});
  ASSERT_TRUE(inbox.wait_for(3));
  const auto got = inbox.messages();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].payload, binary);
  EXPECT_EQ(got[0].qos, 0);
  EXPECT_EQ(got[1].payload, "qos1");
  EXPECT_EQ(got[1].qos, 1);
  EXPECT_EQ(got[2].payload, "qos2");
  EXPECT_EQ(got[2].qos, 1);  // downgraded to the subscription's QoS
  EXPECT_FALSE(got[0].retained);
  EXPECT_EQ(pub.stats().published, 3u);
  EXPECT_EQ(sub.stats().received, 3u);
  EXPECT_EQ(pub.stats().dropped, 0u);
}

TEST(MqttClient, ABurstBeyondTheInFlightWindowArrivesCompleteAndInOrder) {
  PubSub t("burst", /*pub_max_inflight=*/5);  // most of the burst waits in the client's queue
  auto& [broker, inbox, sub, pub] = t;

  constexpr int kCount = 1000;
  for (int i = 0; i < kCount - 1; ++i) pub.publish("burst", std::to_string(i), 1);
  pub.publish_wait({"burst", std::to_string(kCount - 1), 1, false, {}, {}});  // queued too
  ASSERT_TRUE(inbox.wait_for(kCount)) << "got " << inbox.size();
  const auto got = inbox.messages();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(got[i].payload, std::to_string(i));
  EXPECT_EQ(pub.stats().dropped, 0u);
}

// Publishes made on a PublishThread shared by several clients: each client's messages
// arrive complete and in order through a queue of two, publish_wait comes after what was
// queued before it, a client destroyed right after publishing still hands its messages
// over, and a bad topic is the caller's error, not the thread's.
TEST(MqttClient, APublishThreadKeepsEachClientsOrderAndHandsEverythingOver) {
  MosquittoBroker broker;
  MqttClient sub(options_for(broker, "sub"));
  Inbox inbox;
  sub.subscribe("queued/#", 1, inbox.handler());
  sub.connect();
  const auto publisher = std::make_shared<PublishThread>(/*max_queued=*/2);  // publish() blocks
  constexpr int kCount = 300;
  std::vector<std::unique_ptr<MqttClient>> pubs;
  std::vector<MqttClient*> raw;
  for (int c = 0; c < 3; ++c) {
    ClientOptions o = options_for(broker, "pub");
    o.max_inflight = 5;
    o.publisher = publisher;
    pubs.push_back(std::make_unique<MqttClient>(o));
    raw.push_back(pubs.back().get());
  }
  MqttClient::connect_all(raw);
  EXPECT_THROW(pubs[0]->publish("queued/#", "x", 1), Error);
  EXPECT_THROW(pubs[0]->publish("queued/0", "x", 3), Error);
  for (int i = 0; i < kCount; ++i) {
    for (int c = 0; c < 3; ++c) {
      pubs[c]->publish("queued/" + std::to_string(c), std::to_string(i), 1);
    }
  }
  pubs[0]->publish_wait({"queued/0", "last", 1, false, {}, {}});
  pubs[2].reset();  // destroyed with its messages possibly still queued
  ASSERT_TRUE(inbox.wait_for(3 * kCount + 1)) << "got " << inbox.size();
  std::map<std::string, std::vector<std::string>> by_topic;
  for (const Message& m : inbox.messages()) by_topic[m.topic].push_back(m.payload);
  for (int c = 0; c < 3; ++c) {
    const auto& got = by_topic["queued/" + std::to_string(c)];
    ASSERT_EQ(got.size(), kCount + (c == 0 ? 1u : 0u)) << c;
    for (int i = 0; i < kCount; ++i) ASSERT_EQ(got[i], std::to_string(i)) << c;
  }
  EXPECT_EQ(by_topic["queued/0"].back(), "last");
  const PublishThread::Stats stats = publisher->stats();
  EXPECT_EQ(stats.published, 3u * kCount);  // publish_wait does not queue
  EXPECT_GE(stats.wait_max_ms, stats.wait_mean_ms);
}

TEST(MqttClient, RetainedMessagesArriveOnSubscribeMarkedRetained) {
  MosquittoBroker broker;
  {
    MqttClient pub(options_for(broker, "pub"));
    pub.connect();
    pub.publish_wait({"fleet/v1/vehicles/car-1/status", "online", 1, true, {}, {}});
  }
  MqttClient sub(options_for(broker, "sub"));
  Inbox inbox;
  sub.subscribe("fleet/v1/vehicles/+/status", 1, inbox.handler());
  sub.connect();
  ASSERT_TRUE(inbox.wait_for(1));
  EXPECT_EQ(inbox.messages()[0].payload, "online");
  EXPECT_TRUE(inbox.messages()[0].retained);

  // Subscribing while connected also replays it.
  Inbox later;
  sub.subscribe("fleet/v1/vehicles/car-1/#", 1, later.handler());
  ASSERT_TRUE(later.wait_for(1));
  EXPECT_TRUE(later.messages()[0].retained);
}

TEST(MqttClient, DispatchesToEveryMatchingHandlerExactlyOnce) {
  MosquittoBroker broker;
  MqttClient client(options_for(broker, "wild"));
  Inbox plus, hash, exact;
  client.subscribe("a/+/c", 1, plus.handler());
  client.subscribe("a/#", 1, hash.handler());
  client.subscribe("x/y", 1, exact.handler());
  client.connect();

  client.publish("a/b/c", "1", 1);  // a/+/c and a/#
  client.publish("a/z", "2", 1);    // a/# only
  client.publish("x/y", "3", 1);    // x/y only
  client.publish("a", "4", 1);      // a/# (the parent level)
  client.publish_wait({"done", "", 1, false, {}, {}});
  ASSERT_TRUE(hash.wait_for(3));
  ASSERT_TRUE(exact.wait_for(1));
  // Overlapping subscriptions make mosquitto send one copy per subscription; the
  // subscription identifiers route each copy to its own handler.
  ASSERT_TRUE(wait_until([&] { return plus.size() == 1; }, kWait));
  EXPECT_EQ(plus.messages()[0].payload, "1");
  std::vector<std::string> seen;
  for (const auto& m : hash.messages()) seen.push_back(m.payload);
  EXPECT_THAT(seen, ::testing::ElementsAre("1", "2", "4"));
  EXPECT_EQ(exact.messages()[0].payload, "3");

  client.unsubscribe("a/#");
  client.publish_wait({"a/b/c", "5", 1, false, {}, {}});
  ASSERT_TRUE(plus.wait_for(2));
  EXPECT_EQ(hash.size(), 3u);
}

TEST(MqttClient, LastWillIsPublishedWhenAConnectedProcessIsKilled) {
  MosquittoBroker broker;
  MqttProbe probe(broker.uri(), {"peer/#"});
  test::TestDir dir;
  test::ChildProcess::Options child;
  child.log_path = dir / "peer.log";
  test::ChildProcess peer(
      FLEETML_MQTT_TEST_PEER,
      {broker.uri(), "vehicle-car-7", "peer/car-7/status", "offline", "peer/car-7/ready"}, child);
  ASSERT_TRUE(probe.wait_for("peer/car-7/ready", kWait)) << peer.log();
  EXPECT_FALSE(probe.wait_for("peer/car-7/status", 0ms));

  peer.kill();
  const auto will = probe.wait_for("peer/car-7/status", kWait);
  ASSERT_TRUE(will.has_value()) << broker.log();
  EXPECT_EQ(will->payload, "offline");
  const auto retained = probe.wait_for_retained("peer/car-7/status", kWait);
  ASSERT_TRUE(retained.has_value());
  EXPECT_EQ(retained->payload, "offline");
}

TEST(MqttClient, LastWillOnRequestButNotOnACleanDisconnect) {
  MosquittoBroker broker;
  MqttProbe probe(broker.uri(), {"will/#"});
  ClientOptions o = options_for(broker, "willing");
  o.will = Will{"will/crashed", "gone", 1, false};
  {
    MqttClient client(o);
    client.connect();
    client.disconnect(1s, /*send_will=*/true);  // MQTT 5 reason 0x04
    EXPECT_FALSE(client.connected());
  }
  const auto will = probe.wait_for("will/crashed", kWait);
  ASSERT_TRUE(will.has_value());
  EXPECT_EQ(will->payload, "gone");

  o.will = Will{"will/clean", "gone", 1, true};
  {
    MqttClient client(o);
    client.connect();
  }  // the destructor disconnects cleanly: the broker discards the will
  probe.client().publish_wait({"will/marker", "", 1, false, {}, {}});
  ASSERT_TRUE(probe.wait_for("will/marker", kWait));
  EXPECT_TRUE(probe.messages_on("will/clean").empty());
  EXPECT_FALSE(probe.wait_for_retained("will/clean", 500ms).has_value());
}

TEST(MqttClient, ReconnectsAndResubscribesAfterABrokerRestart) {
  MosquittoBroker broker;  // no persistence: the restarted broker knows no subscriptions
  ClientOptions so = options_for(broker, "sub");
  so.clean_start = true;
  MqttClient sub(so);
  std::mutex mutex;
  std::vector<bool> states;
  sub.on_state([&](bool connected, const std::string&) {
    std::lock_guard lock(mutex);
    states.push_back(connected);
  });
  Inbox inbox;
  sub.subscribe("t/#", 1, inbox.handler());
  MqttClient pub(options_for(broker, "pub"));
  MqttClient::connect_all({&sub, &pub});

  const int port = broker.port();
  broker.restart();
  ASSERT_EQ(broker.port(), port);
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(mutex);
        return states.size() >= 3 && states.back();
      },
      kWait));
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(states[0], true);
    EXPECT_EQ(states[1], false);
  }
  // Delivery proves the re-subscription: the new broker process never saw the first one.
  // Publish until it arrives, since the publisher's reconnection races the subscriber's.
  ASSERT_TRUE(wait_until(
      [&] {
        pub.publish("t/after-restart", "x", 1);
        return inbox.size() > 0;
      },
      kWait, 200ms));
  EXPECT_EQ(inbox.messages()[0].topic, "t/after-restart");
}

TEST(MqttClient, MessagesPublishedWhileTheBrokerIsDownAreDeliveredAfterwards) {
  MosquittoBroker broker({.persistence = true, .extra_config = {}});
  ClientOptions so = options_for(broker, "sub");  // persistent session, kept across restart
  MqttClient sub(so);
  Inbox inbox;
  sub.subscribe("t/#", 1, inbox.handler());
  MqttClient pub(options_for(broker, "pub"));
  MqttClient::connect_all({&sub, &pub});

  broker.stop();
  ASSERT_TRUE(wait_until([&] { return !pub.connected(); }, kWait));
  for (int i = 0; i < 20; ++i) pub.publish("t/queued", std::to_string(i), 1);
  EXPECT_EQ(pub.stats().dropped, 0u);
  broker.start();

  ASSERT_TRUE(inbox.wait_for(20)) << "got " << inbox.size();
  const auto got = inbox.messages();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[i].payload, std::to_string(i));
}

TEST(MqttClient, PersistentSessionReceivesWhatWasQueuedWhileOffline) {
  MosquittoBroker broker({.persistence = true, .extra_config = {}});
  ClientOptions so = options_for(broker, "coordinator");
  so.session_expiry = 600s;
  {
    MqttClient sub(so);
    sub.subscribe("fleet/v1/vehicles/+/report", 1, [](const Message&) {});
    sub.connect();
  }  // offline now; the broker keeps the session and queues for it

  MqttClient pub(options_for(broker, "vehicle"));
  pub.connect();
  for (int i = 0; i < 10; ++i) {
    pub.publish_wait({"fleet/v1/vehicles/car-" + std::to_string(i) + "/report",
                      std::to_string(i),
                      1,
                      false,
                      {},
                      {}});
  }
  pub.publish_wait({"fleet/v1/vehicles/car-0/link", "qos0 not subscribed", 0, false, {}, {}});

  MqttClient back(so);  // same client id, a new process would do the same
  Inbox inbox;
  back.subscribe("fleet/v1/vehicles/+/report", 1, inbox.handler());  // before connect
  back.connect();
  ASSERT_TRUE(inbox.wait_for(10)) << "got " << inbox.size();
  const auto got = inbox.messages();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(got[i].payload, std::to_string(i));
    EXPECT_FALSE(got[i].retained);
  }

  // With clean_start the session, and what was queued for it, is gone.
  back.disconnect();
  pub.publish_wait({"fleet/v1/vehicles/car-1/report", "lost", 1, false, {}, {}});
  so.clean_start = true;
  MqttClient fresh(so);
  Inbox nothing;
  fresh.subscribe("fleet/v1/vehicles/+/report", 1, nothing.handler());
  fresh.connect();
  fresh.publish_wait({"fleet/v1/vehicles/car-2/report", "live", 1, false, {}, {}});
  ASSERT_TRUE(nothing.wait_for(1));
  EXPECT_EQ(nothing.messages()[0].payload, "live");
}

TEST(MqttClient, ConnectingToADeadPortFailsFastWithAClearReason) {
  int dead_port = 0;
  {
    MosquittoBroker broker;
    dead_port = broker.port();
  }  // stopped: nothing listens there now
  ClientOptions o;
  o.broker_uri = "mqtt://127.0.0.1:" + std::to_string(dead_port);
  o.client_id = "vehicle-rpi4-001";
  MqttClient client(o);
  try {
    client.connect(60s);
    FAIL() << "connected to a dead port";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("cannot connect to " + o.broker_uri + " as 'vehicle-rpi4-001'"));
    EXPECT_THAT(what, Not(HasSubstr("no answer")));  // refused, not timed out
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(client.connected());
}

TEST(MqttClient, OneMebibytePayloadRoundTrip) {
  PubSub t("fleet/v1/vehicles/car-1/chunk");
  auto& [broker, inbox, sub, pub] = t;

  const std::string payload = random_bytes(1 << 20);
  const auto start = std::chrono::steady_clock::now();
  constexpr int kCount = 8;
  for (int i = 0; i < kCount; ++i) {
    pub.publish_wait({"fleet/v1/vehicles/car-1/chunk", payload, 1, false, {}, {}});
  }
  ASSERT_TRUE(inbox.wait_for(kCount));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& m : inbox.messages()) EXPECT_TRUE(m.payload == payload);
  RecordProperty("mib_per_s", std::to_string(kCount / seconds));
  std::printf("1 MiB QoS1 messages: %.1f MiB/s\n", kCount / seconds);
}

TEST(MqttClient, RequestReplyCarriesResponseTopicAndCorrelationData) {
  MosquittoBroker broker;
  MqttClient server(options_for(broker, "coordinator"));
  server.subscribe("fleet/v1/ops/catalog/request", 1, [&](const Message& request) {
    // Answering from the handler: publish() is allowed on the callback thread.
    server.publish({request.response_topic,
                    "catalog for " + request.payload,
                    1,
                    false,
                    {},
                    request.correlation_data});
  });
  MqttClient operator_cli(options_for(broker, "fleetctl"));
  Inbox replies;
  operator_cli.subscribe("fleet/v1/ops/catalog/reply/fleetctl-1", 1, replies.handler());
  MqttClient::connect_all({&server, &operator_cli});

  const std::string correlation("\x01\x02req-7", 7);
  operator_cli.publish({"fleet/v1/ops/catalog/request", "models", 1, false,
                        "fleet/v1/ops/catalog/reply/fleetctl-1", correlation});
  ASSERT_TRUE(replies.wait_for(1));
  const Message reply = replies.messages()[0];
  EXPECT_EQ(reply.payload, "catalog for models");
  EXPECT_EQ(reply.correlation_data, correlation);
  EXPECT_TRUE(reply.response_topic.empty());
}

TEST(MqttClient, WaitingCallsFromAHandlerThrowInsteadOfDeadlocking) {
  MosquittoBroker broker;
  MqttClient client(options_for(broker, "handler"));
  std::atomic<int> refused{0};
  std::atomic<bool> done{false};
  client.subscribe("in", 1, [&](const Message&) {
    try {
      client.publish_wait({"out", "x", 1, false, {}, {}});
    } catch (const Error& e) {
      if (std::string(e.what()).find("called from an MQTT handler") != std::string::npos) {
        ++refused;
      }
    }
    try {
      client.subscribe("other", 1, [](const Message&) {});
    } catch (const Error&) {
      ++refused;
    }
    done = true;
  });
  client.connect();
  client.publish("in", "go", 1);
  ASSERT_TRUE(wait_until([&] { return done.load(); }, kWait));
  EXPECT_EQ(refused.load(), 2);
}

TEST(MqttClient, AFullOfflineBufferDropsAndCountsInsteadOfGrowing) {
  MosquittoBroker broker;
  MqttProbe probe(broker.uri(), {"buf/#"});
  ClientOptions o = options_for(broker, "buffered");
  o.max_inflight = 2;  // handed to Paho, which holds them while disconnected
  o.max_buffered = 3;  // waiting behind them
  MqttClient client(o);
  for (int i = 0; i < 8; ++i) client.publish("buf/x", std::to_string(i), 1);  // not connected
  EXPECT_EQ(client.stats().dropped, 3u);
  EXPECT_EQ(client.stats().published, 5u);
  EXPECT_EQ(client.stats().queued_bytes, 5u);  // five 1-byte payloads wait; drops don't count
  EXPECT_THROW(client.publish_wait({"buf/x", "full", 1, false, {}, {}}, 1s), Error);
  client.connect();
  ASSERT_TRUE(probe.wait_for_count(5, kWait));
  EXPECT_TRUE(wait_until([&] { return client.stats().queued_bytes == 0; }, kWait));
  std::vector<std::string> seen;
  for (const auto& m : probe.messages()) seen.push_back(m.payload);
  EXPECT_THAT(seen, ::testing::ElementsAre("0", "1", "2", "3", "4"));
}

TEST(MqttClient, SurvivesTheBrokerDyingUnderIt) {
  MosquittoBroker broker;
  auto client = std::make_unique<MqttClient>(options_for(broker, "orphan"));
  client->subscribe("x", 1, [](const Message&) {});
  client->connect();
  broker.kill();
  ASSERT_TRUE(wait_until([&] { return !client->connected(); }, kWait));
  client->publish("x", "buffered", 1);
  EXPECT_THROW(client->publish_wait({"x", "y", 1, false, {}, {}}, 200ms), Error);
  client->disconnect();  // not connected: a no-op
  client.reset();        // and the destructor neither hangs nor crashes
}

// Resident memory of this process, bytes.
long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// The simulator runs a fleet of clients in one process. FLEETML_MQTT_CLIENTS overrides the
// count (e.g. 1000) to measure; the result is printed and recorded as a test property.
TEST(MqttClient, ManyClientsInOneProcess) {
  const char* env = std::getenv("FLEETML_MQTT_CLIENTS");
  const int n = env != nullptr ? std::atoi(env) : 200;
  MosquittoBroker broker;
  std::atomic<int> received{0};
  const long before = resident_bytes();
  MqttClient sender(options_for(broker, "sender"));
  std::vector<std::unique_ptr<MqttClient>> fleet;
  std::vector<MqttClient*> pointers;
  for (int i = 0; i < n; ++i) {
    ClientOptions o = options_for(broker, "vehicle");
    fleet.push_back(std::make_unique<MqttClient>(o));
    const std::string vid = "car-" + std::to_string(i);
    fleet.back()->subscribe("fleet/v1/vehicles/" + vid + "/assignment", 1,
                            [&](const Message&) { ++received; });
    fleet.back()->subscribe("fleet/v1/vehicles/" + vid + "/chunk", 1, [](const Message&) {});
    fleet.back()->subscribe("fleet/v1/models/+/manifest", 1, [](const Message&) {});
    pointers.push_back(fleet.back().get());
  }
  pointers.push_back(&sender);
  const auto start = std::chrono::steady_clock::now();
  MqttClient::connect_all(pointers, 120s);
  const double connect_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long after = resident_bytes();

  for (int i = 0; i < n; ++i) {
    sender.publish("fleet/v1/vehicles/car-" + std::to_string(i) + "/assignment", "a", 1);
  }
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return received.load() == n; }, 60s)) << received.load();
  const double deliver_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  const auto stopping = std::chrono::steady_clock::now();
  fleet.clear();
  const double stop_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stopping).count();
  const double kib_per_client = static_cast<double>(after - before) / (n + 1) / 1024;
  RecordProperty("clients", n);
  RecordProperty("kib_per_client", std::to_string(kib_per_client));
  std::printf(
      "%d clients: connected in %.1f s, %.1f KiB resident per connected client, one message "
      "to each in %.2f s, destroyed in %.1f s\n",
      n, connect_s, kib_per_client, deliver_s, stop_s);
}

}  // namespace
}  // namespace fleetml::transport
