#pragma once

#include <string>
#include <string_view>

namespace google::protobuf {
class Message;
}

namespace fleetml::messages {

// Protobuf's canonical JSON mapping with the .proto field names (snake_case) and every
// field printed, defaults included, so operators and scripts see a stable shape. 64-bit
// integers print as strings, as the mapping requires.
std::string to_json(const google::protobuf::Message& message, bool pretty = false);

// Parses the JSON mapping into `message` (cleared first). Unknown fields are an error unless
// `ignore_unknown`; throws fleetml::Error with the parser's reason.
void from_json(std::string_view json, google::protobuf::Message& message,
               bool ignore_unknown = false);

}  // namespace fleetml::messages
