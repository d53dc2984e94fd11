#include "shared/messages/json.h"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include "shared/common/error.h"

namespace fleetml::messages {

std::string to_json(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    throw Error("cannot print " + message.GetTypeName() +
                " as JSON: " + std::string(status.message()));
  }
  return out;
}

void from_json(std::string_view json, google::protobuf::Message& message, bool ignore_unknown) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = ignore_unknown;
  message.Clear();
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &message, options);
  if (!status.ok()) {
    throw Error("bad " + message.GetTypeName() + " JSON: " + std::string(status.message()));
  }
}

}  // namespace fleetml::messages
