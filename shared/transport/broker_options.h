#pragma once

#include <string>

#include "shared/messages/topics.h"
#include "shared/transport/mqtt_client.h"

namespace fleetml::cli {
class Args;
class Parser;
}  // namespace fleetml::cli

namespace fleetml::transport {

// The broker flags every fleetml binary takes, so they all read the same way:
//   --broker URI      mqtt://host[:port] or mqtts://host[:port] (default mqtt://127.0.0.1:1883)
//   --prefix TOPIC    topic prefix of the deployment (default fleet/v1)
//   --ca-file PEM     CA bundle that signed the broker's certificate (mqtts://)
//   --cert PEM        client certificate (mqtts://, with --key)
//   --key PEM         private key of --cert
//   --username NAME   broker user name
//   --password TEXT   broker password (with --username)
void add_broker_options(cli::Parser& parser);

// ClientOptions from those flags, for a client with the given stable id; everything else
// keeps its ClientOptions default. Throws cli::UsageError when check_client_options rejects
// them (bad broker URI, TLS files with a plain mqtt:// broker, --cert without --key or the
// reverse, --password without --username).
ClientOptions client_options(const cli::Args& args, std::string client_id);

// The deployment's topics from --prefix; throws cli::UsageError for an invalid prefix.
messages::Topics topics(const cli::Args& args);

}  // namespace fleetml::transport
