#include "shared/transport/broker_options.h"

#include "shared/common/cli.h"

namespace fleetml::transport {

void add_broker_options(cli::Parser& parser) {
  parser.option("broker", "URI", "MQTT broker, mqtt://host[:port] or mqtts://host[:port]",
                "mqtt://127.0.0.1:1883");
  parser.option("prefix", "TOPIC", "topic prefix of the deployment",
                std::string(messages::Topics::kDefaultPrefix));
  parser.option("ca-file", "PEM", "CA bundle that signed the broker's certificate (mqtts://)");
  parser.option("cert", "PEM", "client certificate for mqtts:// brokers (with --key)");
  parser.option("key", "PEM", "private key of --cert");
  parser.option("username", "NAME", "broker user name");
  parser.option("password", "TEXT", "broker password (with --username)");
}

ClientOptions client_options(const cli::Args& args, std::string client_id) {
  ClientOptions options;
  options.broker_uri = args.str("broker");
  options.client_id = std::move(client_id);
  options.tls.ca_file = args.maybe("ca-file").value_or("");
  options.tls.cert_file = args.maybe("cert").value_or("");
  options.tls.key_file = args.maybe("key").value_or("");
  options.username = args.maybe("username").value_or("");
  options.password = args.maybe("password").value_or("");
  try {
    check_client_options(options);
  } catch (const Error& e) {
    throw cli::UsageError(e.what());
  }
  return options;
}

messages::Topics topics(const cli::Args& args) {
  try {
    return messages::Topics(args.str("prefix"));
  } catch (const cli::UsageError&) {
    throw;
  } catch (const Error& e) {
    throw cli::UsageError(std::string("--prefix: ") + e.what());
  }
}

}  // namespace fleetml::transport
