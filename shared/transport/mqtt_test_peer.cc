// A process for mqtt_client_test that can die abruptly: connects with a Last Will, announces
// itself on a topic and then waits to be killed.
//
//   mqtt_test_peer BROKER_URI CLIENT_ID WILL_TOPIC WILL_PAYLOAD READY_TOPIC
#include <cstdio>
#include <exception>

#include <unistd.h>

#include "shared/transport/mqtt_client.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s BROKER_URI CLIENT_ID WILL_TOPIC WILL_PAYLOAD READY_TOPIC\n",
                 argv[0]);
    return 2;
  }
  try {
    fleetml::transport::ClientOptions options;
    options.broker_uri = argv[1];
    options.client_id = argv[2];
    options.will = fleetml::transport::Will{argv[3], argv[4], 1, true};
    fleetml::transport::MqttClient client(options);
    client.connect();
    client.publish_wait({argv[5], "ready", 1, false, {}, {}});
    for (;;) ::pause();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mqtt_test_peer: %s\n", e.what());
    return 1;
  }
}
