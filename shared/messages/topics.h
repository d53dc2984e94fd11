#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fleetml::messages {

// Ids that become one topic level: vehicle ids, model ids, application ids and operator
// client ids all follow the SPEC's rule [A-Za-z0-9_-]{1,64}, so they can never contain a
// level separator or a wildcard.
bool is_valid_id(std::string_view id);
inline bool is_valid_vehicle_id(std::string_view id) { return is_valid_id(id); }
inline bool is_valid_model_id(std::string_view id) { return is_valid_id(id); }
inline bool is_valid_application_id(std::string_view id) { return is_valid_id(id); }

// A concrete MQTT topic name, as published: non-empty, at most 65535 bytes, no wildcards
// ('+', '#'), no NUL.
bool is_valid_topic_name(std::string_view topic);

// MQTT topic filter syntax: levels separated by '/', '+' alone in a level, '#' alone in the
// last level, non-empty, no NUL.
bool is_valid_topic_filter(std::string_view filter);

// MQTT matching of a concrete topic against a filter ('+' one level, '#' this level and every
// level below, including none: "a/#" matches "a"). Topics starting with '$' are not matched by
// a leading wildcard, as the MQTT spec requires.
bool topic_matches(std::string_view filter, std::string_view topic);

// Every topic kind of the MQTT contract (SPEC "MQTT contract (v1)") plus the operator RPC
// topics used by fleetctl to query the coordinator's catalog.
enum class TopicKind {
  kCapability,      // vehicles/{vid}/capability        vehicle -> coordinator, retained
  kStatus,          // vehicles/{vid}/status            vehicle (and its Last Will), retained
  kLink,            // vehicles/{vid}/link              vehicle -> coordinator
  kAssignment,      // vehicles/{vid}/assignment        coordinator -> vehicle, retained
  kAssignmentJson,  // vehicles/{vid}/assignment/json   coordinator -> operators, retained
  kFetch,           // vehicles/{vid}/fetch             vehicle -> coordinator
  kChunk,           // vehicles/{vid}/chunk             coordinator -> vehicle
  kReport,          // vehicles/{vid}/report            vehicle -> coordinator
  kManifest,        // models/{model}/manifest          coordinator -> all, retained
  kEvents,          // ops/events                       coordinator -> operators
  kCatalogRequest,  // ops/catalog/request              operator -> coordinator
  kCatalogReply,    // ops/catalog/reply/{client_id}    coordinator -> one operator
};

// Name of a kind for logs, e.g. "capability", "assignment/json", "catalog/reply".
std::string_view kind_name(TopicKind kind);

// What a concrete topic is: its kind and the id in it (vehicle id, model id or operator
// client id; empty for ops/events and ops/catalog/request).
struct ParsedTopic {
  TopicKind kind;
  std::string id;

  bool operator==(const ParsedTopic&) const = default;
};

// Builds and parses the topics of one deployment, all under one prefix.
class Topics {
 public:
  static constexpr std::string_view kDefaultPrefix = "fleet/v1";

  // `prefix` is one or more non-empty levels of printable ASCII without wildcards ('+', '#'),
  // not starting with '$' (reserved for broker topics) and at most 256 characters; throws
  // fleetml::Error naming the fault otherwise.
  explicit Topics(std::string prefix = std::string(kDefaultPrefix));

  const std::string& prefix() const { return prefix_; }

  // The topic of `kind` for `id` (vehicle, model or client id as the kind requires; ignored
  // and may be empty for ops/events and ops/catalog/request). Throws fleetml::Error if the id
  // is not valid (is_valid_id).
  std::string topic(TopicKind kind, std::string_view id = {}) const;

  std::string capability(std::string_view vehicle_id) const;
  std::string status(std::string_view vehicle_id) const;
  std::string link(std::string_view vehicle_id) const;
  std::string assignment(std::string_view vehicle_id) const;
  std::string assignment_json(std::string_view vehicle_id) const;
  std::string fetch(std::string_view vehicle_id) const;
  std::string chunk(std::string_view vehicle_id) const;
  std::string report(std::string_view vehicle_id) const;
  std::string manifest(std::string_view model_id) const;
  std::string events() const;
  std::string catalog_request() const;
  std::string catalog_reply(std::string_view client_id) const;

  // Subscription filter matching every topic of `kind`, with '+' in place of the id, e.g.
  // "fleet/v1/vehicles/+/capability"; the exact topic for kinds without an id.
  std::string filter(TopicKind kind) const;
  // "<prefix>/#": everything of this deployment (operators, tests).
  std::string all() const;

  // The kind and id of a topic of this deployment; nullopt for topics outside the prefix, of
  // an unknown shape, or whose id is not valid.
  std::optional<ParsedTopic> parse(std::string_view topic) const;

 private:
  std::string prefix_;
};

}  // namespace fleetml::messages
