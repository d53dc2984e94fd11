#include "shared/messages/topics.h"

#include <array>

#include "shared/common/error.h"

namespace fleetml::messages {
namespace {

// A topic of one kind is "<prefix>/<head><id><tail>"; kinds without an id are
// "<prefix>/<head>".
struct Layout {
  TopicKind kind;
  std::string_view name;
  std::string_view head;
  std::string_view tail;
  bool has_id;
};

constexpr std::array<Layout, 12> kLayouts{{
    {TopicKind::kCapability, "capability", "vehicles/", "/capability", true},
    {TopicKind::kStatus, "status", "vehicles/", "/status", true},
    {TopicKind::kLink, "link", "vehicles/", "/link", true},
    {TopicKind::kAssignment, "assignment", "vehicles/", "/assignment", true},
    {TopicKind::kAssignmentJson, "assignment/json", "vehicles/", "/assignment/json", true},
    {TopicKind::kFetch, "fetch", "vehicles/", "/fetch", true},
    {TopicKind::kChunk, "chunk", "vehicles/", "/chunk", true},
    {TopicKind::kReport, "report", "vehicles/", "/report", true},
    {TopicKind::kManifest, "manifest", "models/", "/manifest", true},
    {TopicKind::kEvents, "events", "ops/events", "", false},
    {TopicKind::kCatalogRequest, "catalog/request", "ops/catalog/request", "", false},
    {TopicKind::kCatalogReply, "catalog/reply", "ops/catalog/reply/", "", true},
}};

const Layout& layout(TopicKind kind) {
  for (const Layout& l : kLayouts) {
    if (l.kind == kind) return l;
  }
  throw Error("unknown topic kind " + std::to_string(static_cast<int>(kind)));
}

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Splits off the first level of `rest` (up to '/'), advancing `rest` past it; `last` tells
// whether it was the final level.
std::string_view next_level(std::string_view& rest, bool& last) {
  const auto slash = rest.find('/');
  last = slash == std::string_view::npos;
  const std::string_view level = rest.substr(0, slash);
  rest = last ? std::string_view{} : rest.substr(slash + 1);
  return level;
}

void check_prefix(std::string_view prefix) {
  const std::string quoted = "topic prefix '" + std::string(prefix) + "'";
  if (prefix.empty()) throw Error("topic prefix is empty");
  if (prefix.size() > 256) throw Error(quoted + " is longer than 256 characters");
  if (prefix.front() == '$') throw Error(quoted + " starts with '$' (reserved for the broker)");
  for (char c : prefix) {
    if (c == '+' || c == '#') throw Error(quoted + " contains a wildcard ('+' or '#')");
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
      throw Error(quoted + " contains a non-printable or non-ASCII character");
    }
  }
  std::string_view rest = prefix;
  bool last = false;
  while (!last) {
    if (next_level(rest, last).empty()) throw Error(quoted + " has an empty level");
  }
}

}  // namespace

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!is_id_char(c)) return false;
  }
  return true;
}

bool is_valid_topic_name(std::string_view topic) {
  return !topic.empty() && topic.size() <= 65535 &&
         topic.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

bool is_valid_topic_filter(std::string_view filter) {
  if (filter.empty() || filter.size() > 65535) return false;
  std::string_view rest = filter;
  bool last = false;
  while (!last) {
    const std::string_view level = next_level(rest, last);
    for (char c : level) {
      if (c == '\0') return false;
      if ((c == '+' || c == '#') && level.size() != 1) return false;
    }
    if (level == "#" && !last) return false;
  }
  return true;
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  bool filter_last = false;
  bool topic_last = false;
  while (true) {
    const std::string_view f = next_level(filter, filter_last);
    if (f == "#") return true;  // this level and everything below, including nothing
    const std::string_view t = next_level(topic, topic_last);
    if (f != "+" && f != t) return false;
    if (filter_last && topic_last) return true;
    // The topic ended first: "a/#" still matches "a".
    if (topic_last) return filter == "#";
    if (filter_last) return false;
  }
}

std::string_view kind_name(TopicKind kind) { return layout(kind).name; }

Topics::Topics(std::string prefix) : prefix_(std::move(prefix)) { check_prefix(prefix_); }

std::string Topics::topic(TopicKind kind, std::string_view id) const {
  const Layout& l = layout(kind);
  std::string out = prefix_ + "/";
  out += l.head;
  if (l.has_id) {
    if (!is_valid_id(id)) {
      throw Error(std::string(l.name) + " topic: invalid id '" + std::string(id) +
                  "' (expected [A-Za-z0-9_-]{1,64})");
    }
    out += id;
    out += l.tail;
  }
  return out;
}

std::string Topics::capability(std::string_view vehicle_id) const {
  return topic(TopicKind::kCapability, vehicle_id);
}
std::string Topics::status(std::string_view vehicle_id) const {
  return topic(TopicKind::kStatus, vehicle_id);
}
std::string Topics::link(std::string_view vehicle_id) const {
  return topic(TopicKind::kLink, vehicle_id);
}
std::string Topics::assignment(std::string_view vehicle_id) const {
  return topic(TopicKind::kAssignment, vehicle_id);
}
std::string Topics::assignment_json(std::string_view vehicle_id) const {
  return topic(TopicKind::kAssignmentJson, vehicle_id);
}
std::string Topics::fetch(std::string_view vehicle_id) const {
  return topic(TopicKind::kFetch, vehicle_id);
}
std::string Topics::chunk(std::string_view vehicle_id) const {
  return topic(TopicKind::kChunk, vehicle_id);
}
std::string Topics::report(std::string_view vehicle_id) const {
  return topic(TopicKind::kReport, vehicle_id);
}
std::string Topics::manifest(std::string_view model_id) const {
  return topic(TopicKind::kManifest, model_id);
}
std::string Topics::events() const { return topic(TopicKind::kEvents); }
std::string Topics::catalog_request() const { return topic(TopicKind::kCatalogRequest); }
std::string Topics::catalog_reply(std::string_view client_id) const {
  return topic(TopicKind::kCatalogReply, client_id);
}

std::string Topics::filter(TopicKind kind) const {
  const Layout& l = layout(kind);
  std::string out = prefix_ + "/";
  out += l.head;
  if (l.has_id) {
    out += '+';
    out += l.tail;
  }
  return out;
}

std::string Topics::all() const { return prefix_ + "/#"; }

std::optional<ParsedTopic> Topics::parse(std::string_view topic) const {
  if (topic.size() <= prefix_.size() + 1 || !topic.starts_with(prefix_) ||
      topic[prefix_.size()] != '/') {
    return std::nullopt;
  }
  const std::string_view rest = topic.substr(prefix_.size() + 1);
  for (const Layout& l : kLayouts) {
    if (!l.has_id) {
      if (rest == l.head) return ParsedTopic{l.kind, ""};
      continue;
    }
    if (rest.size() <= l.head.size() + l.tail.size() || !rest.starts_with(l.head) ||
        !rest.ends_with(l.tail)) {
      continue;
    }
    const std::string_view id =
        rest.substr(l.head.size(), rest.size() - l.head.size() - l.tail.size());
    if (is_valid_id(id)) return ParsedTopic{l.kind, std::string(id)};
  }
  return std::nullopt;
}

}  // namespace fleetml::messages
