#include "shared/transport/broker_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shared/common/cli.h"
#include "shared/common/error.h"

namespace fleetml::transport {
namespace {

using ::testing::HasSubstr;

cli::Args parse(const std::vector<std::string>& argv) {
  cli::Parser parser;
  add_broker_options(parser);
  return parser.parse(argv);
}

TEST(BrokerUri, ParsesHostsPortsAndSchemes) {
  BrokerAddress a = parse_broker_uri("mqtt://127.0.0.1:1883");
  EXPECT_FALSE(a.tls);
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 1883);
  EXPECT_EQ(a.paho_uri(), "tcp://127.0.0.1:1883");

  a = parse_broker_uri("mqtts://broker.example.org");
  EXPECT_TRUE(a.tls);
  EXPECT_EQ(a.port, 8883);
  EXPECT_EQ(a.paho_uri(), "ssl://broker.example.org:8883");

  EXPECT_EQ(parse_broker_uri("mqtt://localhost").port, 1883);
  EXPECT_EQ(parse_broker_uri("mqtt://localhost/").host, "localhost");
  a = parse_broker_uri("mqtt://[::1]:11883");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.paho_uri(), "tcp://[::1]:11883");
}

TEST(BrokerUri, RejectsMistakesWithTheReason) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"tcp://127.0.0.1:1883", "expected mqtt://host[:port]"},
      {"127.0.0.1:1883", "expected mqtt://host[:port]"},
      {"mqtt://", "missing host"},
      {"mqtt://:1883", "missing host"},
      {"mqtt://host:", "missing port"},
      {"mqtt://host:0", "port '0' is not a number in 1..65535"},
      {"mqtt://host:65536", "not a number in 1..65535"},
      {"mqtt://host:12ab", "port '12ab'"},
      {"mqtt://user:pw@host", "only host and port"},
      {"mqtt://host/path", "only host and port"},
      {"mqtt://::1:1883", "IPv6 addresses go in brackets"},
      {"mqtt://[::1", "unterminated IPv6"},
  };
  for (const auto& [uri, reason] : bad) {
    try {
      parse_broker_uri(uri);
      ADD_FAILURE() << uri << " was accepted";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("broker URI '" + uri + "'"));
      EXPECT_THAT(e.what(), HasSubstr(reason)) << uri;
    }
  }
}

TEST(BrokerOptions, DefaultsMatchTheSpec) {
  const cli::Args args = parse({});
  const ClientOptions o = client_options(args, "coordinator");
  EXPECT_EQ(o.broker_uri, "mqtt://127.0.0.1:1883");
  EXPECT_EQ(o.client_id, "coordinator");
  EXPECT_TRUE(o.username.empty());
  EXPECT_TRUE(o.tls.ca_file.empty());
  EXPECT_FALSE(o.clean_start);  // persistent session by default
  EXPECT_EQ(topics(args).prefix(), "fleet/v1");
}

TEST(BrokerOptions, PassesTlsAndCredentials) {
  const cli::Args args =
      parse({"--broker", "mqtts://10.0.0.2:8884", "--ca-file", "ca.pem", "--cert", "c.pem", "--key",
             "k.pem", "--username", "veh", "--password", "pw", "--prefix", "lab/v1"});
  const ClientOptions o = client_options(args, "vehicle-rpi4-001");
  EXPECT_EQ(o.broker_uri, "mqtts://10.0.0.2:8884");
  EXPECT_EQ(o.tls.ca_file, "ca.pem");
  EXPECT_EQ(o.tls.cert_file, "c.pem");
  EXPECT_EQ(o.tls.key_file, "k.pem");
  EXPECT_EQ(o.username, "veh");
  EXPECT_EQ(o.password, "pw");
  EXPECT_EQ(topics(args).capability("rpi4-001"), "lab/v1/vehicles/rpi4-001/capability");
}

TEST(BrokerOptions, InconsistentFlagsAreUsageErrors) {
  EXPECT_THROW(client_options(parse({"--broker", "http://x"}), "c"), cli::UsageError);
  EXPECT_THROW(client_options(parse({"--ca-file", "ca.pem"}), "c"), cli::UsageError);
  EXPECT_THROW(client_options(parse({"--broker", "mqtts://h", "--cert", "c.pem"}), "c"),
               cli::UsageError);
  EXPECT_THROW(client_options(parse({"--password", "pw"}), "c"), cli::UsageError);
  EXPECT_THROW(client_options(parse({}), ""), cli::UsageError);
  EXPECT_THROW(topics(parse({"--prefix", "fleet/#"})), cli::UsageError);
  try {
    topics(parse({"--prefix", "a//b"}));
  } catch (const cli::UsageError& e) {
    EXPECT_STREQ(e.what(), "--prefix: topic prefix 'a//b' has an empty level");
  }
}

TEST(ClientOptions, AreCheckedByTheClient) {
  ClientOptions o;
  o.client_id = "x";
  o.will = Will{"a/+/b", "gone", 1, true};
  EXPECT_THROW(MqttClient{o}, Error);
  o.will = Will{"a/b", "gone", 3, true};
  EXPECT_THROW(MqttClient{o}, Error);
  o.will.reset();
  o.max_buffered = 0;
  EXPECT_THROW(MqttClient{o}, Error);
  o.max_buffered = 10;
  EXPECT_NO_THROW(MqttClient{o});  // not connected: nothing to reach
}

TEST(MqttClient, RejectsInvalidTopicsFiltersAndQosWithoutABroker) {
  ClientOptions o;
  o.client_id = "offline";
  MqttClient client(o);
  EXPECT_THROW(client.publish("a/+", "x", 0), Error);
  EXPECT_THROW(client.publish("", "x", 0), Error);
  EXPECT_THROW(client.publish("a", "x", 3), Error);
  EXPECT_THROW(client.subscribe("a/#/b", 1, [](const Message&) {}), Error);
  EXPECT_THROW(client.subscribe("a", 5, [](const Message&) {}), Error);
  client.subscribe("a/#", 1, [](const Message&) {});
  EXPECT_THROW(client.subscribe("a/#", 1, [](const Message&) {}), Error);
  // Not connected: buffered, never an error.
  client.publish("a/b", "queued", 1);
  EXPECT_EQ(client.stats().published, 1u);
  EXPECT_FALSE(client.connected());
}

}  // namespace
}  // namespace fleetml::transport
