#include "shared/messages/topics.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "shared/common/error.h"

namespace fleetml::messages {
namespace {

TEST(Ids, FollowTheSpecRule) {
  EXPECT_TRUE(is_valid_vehicle_id("rpi4-001"));
  EXPECT_TRUE(is_valid_vehicle_id("A_z-09"));
  EXPECT_TRUE(is_valid_model_id(std::string(64, 'm')));
  EXPECT_TRUE(is_valid_application_id("front-camera"));

  EXPECT_FALSE(is_valid_vehicle_id(""));
  EXPECT_FALSE(is_valid_vehicle_id(std::string(65, 'v')));
  EXPECT_FALSE(is_valid_vehicle_id("a/b"));
  EXPECT_FALSE(is_valid_vehicle_id("+"));
  EXPECT_FALSE(is_valid_vehicle_id("#"));
  EXPECT_FALSE(is_valid_vehicle_id("car 1"));
  EXPECT_FALSE(is_valid_model_id("resnet.18"));
  EXPECT_FALSE(is_valid_model_id(std::string("a\0b", 3)));
  EXPECT_FALSE(is_valid_application_id("café"));
}

TEST(Topics, BuildsEveryContractTopicUnderTheDefaultPrefix) {
  const Topics t;
  EXPECT_EQ(t.prefix(), "fleet/v1");
  EXPECT_EQ(t.capability("car-1"), "fleet/v1/vehicles/car-1/capability");
  EXPECT_EQ(t.status("car-1"), "fleet/v1/vehicles/car-1/status");
  EXPECT_EQ(t.link("car-1"), "fleet/v1/vehicles/car-1/link");
  EXPECT_EQ(t.assignment("car-1"), "fleet/v1/vehicles/car-1/assignment");
  EXPECT_EQ(t.assignment_json("car-1"), "fleet/v1/vehicles/car-1/assignment/json");
  EXPECT_EQ(t.fetch("car-1"), "fleet/v1/vehicles/car-1/fetch");
  EXPECT_EQ(t.chunk("car-1"), "fleet/v1/vehicles/car-1/chunk");
  EXPECT_EQ(t.report("car-1"), "fleet/v1/vehicles/car-1/report");
  EXPECT_EQ(t.manifest("resnet18"), "fleet/v1/models/resnet18/manifest");
  EXPECT_EQ(t.events(), "fleet/v1/ops/events");
  EXPECT_EQ(t.catalog_request(), "fleet/v1/ops/catalog/request");
  EXPECT_EQ(t.catalog_reply("fleetctl-42"), "fleet/v1/ops/catalog/reply/fleetctl-42");
  EXPECT_EQ(t.all(), "fleet/v1/#");
}

TEST(Topics, BuildersRejectIdsThatWouldChangeTheTopicShape) {
  const Topics t;
  EXPECT_THROW(t.capability("a/b"), Error);
  EXPECT_THROW(t.status("+"), Error);
  EXPECT_THROW(t.manifest("#"), Error);
  EXPECT_THROW(t.report(""), Error);
  EXPECT_THROW(t.catalog_reply("op erator"), Error);
  try {
    t.fetch("x/y");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "fetch topic: invalid id 'x/y' (expected [A-Za-z0-9_-]{1,64})");
  }
}

TEST(Topics, FiltersCoverEveryTopicOfTheirKindAndNothingElse) {
  const Topics t("test/run-7");
  EXPECT_EQ(t.filter(TopicKind::kCapability), "test/run-7/vehicles/+/capability");
  EXPECT_EQ(t.filter(TopicKind::kAssignmentJson), "test/run-7/vehicles/+/assignment/json");
  EXPECT_EQ(t.filter(TopicKind::kManifest), "test/run-7/models/+/manifest");
  EXPECT_EQ(t.filter(TopicKind::kEvents), "test/run-7/ops/events");
  EXPECT_EQ(t.filter(TopicKind::kCatalogReply), "test/run-7/ops/catalog/reply/+");

  EXPECT_TRUE(topic_matches(t.filter(TopicKind::kStatus), t.status("v1")));
  EXPECT_FALSE(topic_matches(t.filter(TopicKind::kStatus), t.capability("v1")));
  EXPECT_FALSE(topic_matches(t.filter(TopicKind::kAssignment), t.assignment_json("v1")));
  EXPECT_TRUE(topic_matches(t.all(), t.events()));
}

TEST(Topics, ParseInvertsEveryBuilder) {
  const Topics t("a/b");
  const std::vector<TopicKind> with_id = {TopicKind::kCapability,     TopicKind::kStatus,
                                          TopicKind::kLink,           TopicKind::kAssignment,
                                          TopicKind::kAssignmentJson, TopicKind::kFetch,
                                          TopicKind::kChunk,          TopicKind::kReport,
                                          TopicKind::kManifest,       TopicKind::kCatalogReply};
  for (TopicKind kind : with_id) {
    EXPECT_EQ(t.parse(t.topic(kind, "x-1")), (ParsedTopic{kind, "x-1"})) << kind_name(kind);
  }
  EXPECT_EQ(t.parse(t.events()), (ParsedTopic{TopicKind::kEvents, ""}));
  EXPECT_EQ(t.parse(t.catalog_request()), (ParsedTopic{TopicKind::kCatalogRequest, ""}));
}

TEST(Topics, ParseRejectsForeignAndMalformedTopics) {
  const Topics t;
  EXPECT_FALSE(t.parse("fleet/v2/vehicles/a/status"));          // other prefix
  EXPECT_FALSE(t.parse("fleet/v1"));                            // the prefix alone
  EXPECT_FALSE(t.parse("fleet/v1x/vehicles/a/status"));         // prefix is not a level
  EXPECT_FALSE(t.parse("fleet/v1/vehicles/a/unknown"));         // unknown kind
  EXPECT_FALSE(t.parse("fleet/v1/vehicles/a/b/status"));        // id with a level separator
  EXPECT_FALSE(t.parse("fleet/v1/vehicles//status"));           // empty id
  EXPECT_FALSE(t.parse("fleet/v1/vehicles/+/status"));          // wildcard is not an id
  EXPECT_FALSE(t.parse("fleet/v1/vehicles/a/assignment/xml"));  // unknown sub-kind
  EXPECT_FALSE(t.parse("fleet/v1/models/m/manifest/extra"));    // trailing level
  EXPECT_FALSE(t.parse("fleet/v1/ops/events/x"));               // trailing level
  EXPECT_FALSE(t.parse("fleet/v1/ops/catalog/reply/"));         // missing client id
}

TEST(Topics, PrefixIsValidated) {
  EXPECT_NO_THROW(Topics("fleet"));
  EXPECT_NO_THROW(Topics("site 3/fleet/v1"));
  EXPECT_THROW(Topics(""), Error);
  EXPECT_THROW(Topics("/fleet"), Error);
  EXPECT_THROW(Topics("fleet/"), Error);
  EXPECT_THROW(Topics("fleet//v1"), Error);
  EXPECT_THROW(Topics("fleet/+"), Error);
  EXPECT_THROW(Topics("fleet/#"), Error);
  EXPECT_THROW(Topics("fle#et"), Error);
  EXPECT_THROW(Topics(std::string("fleet\0v1", 8)), Error);
  EXPECT_THROW(Topics("$SYS/fleet"), Error);
  EXPECT_THROW(Topics(std::string(257, 'p')), Error);
  try {
    Topics("fleet//v1");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "topic prefix 'fleet//v1' has an empty level");
  }
}

TEST(TopicName, RejectsWildcardsAndNul) {
  EXPECT_TRUE(is_valid_topic_name("fleet/v1/vehicles/a/status"));
  EXPECT_TRUE(is_valid_topic_name("a//b"));
  EXPECT_FALSE(is_valid_topic_name(""));
  EXPECT_FALSE(is_valid_topic_name("a/+/b"));
  EXPECT_FALSE(is_valid_topic_name("a/#"));
  EXPECT_FALSE(is_valid_topic_name(std::string("a\0b", 3)));
  EXPECT_FALSE(is_valid_topic_name(std::string(65536, 'a')));
}

TEST(TopicFilter, ValidatesWildcardPlacement) {
  EXPECT_TRUE(is_valid_topic_filter("a/b"));
  EXPECT_TRUE(is_valid_topic_filter("a/+/c"));
  EXPECT_TRUE(is_valid_topic_filter("a/#"));
  EXPECT_TRUE(is_valid_topic_filter("#"));
  EXPECT_TRUE(is_valid_topic_filter("+"));
  EXPECT_TRUE(is_valid_topic_filter("a//b"));
  EXPECT_FALSE(is_valid_topic_filter(""));
  EXPECT_FALSE(is_valid_topic_filter("a/#/c"));
  EXPECT_FALSE(is_valid_topic_filter("a/b#"));
  EXPECT_FALSE(is_valid_topic_filter("a/+b"));
  EXPECT_FALSE(is_valid_topic_filter(std::string("a\0b", 3)));
}

TEST(TopicMatches, FollowsMqttWildcardRules) {
  EXPECT_TRUE(topic_matches("a/b/c", "a/b/c"));
  EXPECT_FALSE(topic_matches("a/b/c", "a/b"));
  EXPECT_FALSE(topic_matches("a/b", "a/b/c"));
  EXPECT_TRUE(topic_matches("a/+/c", "a/b/c"));
  EXPECT_TRUE(topic_matches("a/+/c", "a//c"));  // '+' matches an empty level
  EXPECT_FALSE(topic_matches("a/+/c", "a/b/d"));
  EXPECT_FALSE(topic_matches("a/+", "a/b/c"));
  EXPECT_TRUE(topic_matches("+/+", "a/b"));
  EXPECT_TRUE(topic_matches("a/#", "a/b/c"));
  EXPECT_TRUE(topic_matches("a/#", "a"));  // '#' includes the parent level
  EXPECT_FALSE(topic_matches("a/#", "b/c"));
  EXPECT_TRUE(topic_matches("#", "a/b"));
  EXPECT_TRUE(topic_matches("a/+/#", "a/b"));
  EXPECT_FALSE(topic_matches("a/+/#", "a"));
  EXPECT_FALSE(topic_matches("#", "$SYS/broker/uptime"));
  EXPECT_FALSE(topic_matches("+/broker/uptime", "$SYS/broker/uptime"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/broker/uptime"));
}

}  // namespace
}  // namespace fleetml::messages
