#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fleetml::transport {

// One MQTT message, received or to publish.
struct Message {
  std::string topic;
  std::string payload;  // binary-safe
  int qos = 0;          // 0, 1 or 2
  // On publish: ask the broker to retain it. On receipt: true only for a retained message
  // replayed at subscription time, false for live traffic (MQTT 5 default semantics).
  bool retained = false;
  // MQTT 5 request/reply properties, empty when absent: a requester sets where the answer
  // goes and an opaque token the responder echoes back.
  std::string response_topic;
  std::string correlation_data;
};

// Where the broker is: mqtt://host[:port] (default port 1883) or mqtts://host[:port] (TLS,
// default 8883). IPv6 literals go in brackets: mqtt://[::1]:1883.
struct BrokerAddress {
  bool tls = false;
  std::string host;
  int port = 0;

  // "tcp://host:port" or "ssl://host:port", the form Paho expects.
  std::string paho_uri() const;
};

// Parses a broker URI; throws fleetml::Error naming the URI and the fault.
BrokerAddress parse_broker_uri(std::string_view uri);

// TLS material for mqtts:// brokers. Empty fields are not used: no ca_file means the system's
// trust store; no cert_file/key_file means no client certificate. The broker's certificate
// and host name are always verified.
struct TlsOptions {
  std::string ca_file;    // PEM CA bundle that signed the broker's certificate
  std::string cert_file;  // PEM client certificate, for brokers that authenticate clients
  std::string key_file;   // PEM private key of cert_file
};

// The message the broker publishes for a client that goes away without a clean disconnect
// (crash, kill -9, network loss past the keep-alive) or that asks for it when disconnecting.
struct Will {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retained = true;
};

class PublishThread;

struct ClientOptions {
  std::string broker_uri = "mqtt://127.0.0.1:1883";
  // Required. Stable across restarts (e.g. "vehicle-<vid>", "coordinator") so the broker can
  // resume the persistent session; unique among connected clients: a second client with the
  // same id takes the session over and the broker disconnects the first.
  std::string client_id;
  std::string username;  // empty: anonymous
  std::string password;
  TlsOptions tls;  // only with mqtts://

  // Persistent session: unless clean_start, the broker keeps this client's subscriptions and
  // queues its QoS >= 1 messages while it is offline, for session_expiry after a disconnect
  // (0: the session ends with the connection).
  bool clean_start = false;
  std::chrono::seconds session_expiry{3600};
  std::chrono::seconds keep_alive{30};
  std::optional<Will> will;

  // Automatic reconnection after a lost connection, waiting reconnect_min, then doubling up to
  // reconnect_max between attempts (Paho's granularity is one second).
  std::chrono::seconds reconnect_min{1};
  std::chrono::seconds reconnect_max{30};

  // At most this many QoS >= 1 publishes are handed to the broker unacknowledged (capped by
  // the broker's receive maximum, 20 on a default mosquitto); the rest wait in order. See
  // the flow-control note on MqttClient.
  int max_inflight = 64;

  // Messages published while disconnected (also before the first connect) or waiting behind
  // the in-flight window are kept in memory, in order, and sent as soon as possible: up to
  // max_inflight + max_buffered QoS >= 1 messages (QoS 0 ones share Paho's part). Beyond
  // that the newest are dropped and counted (Stats::dropped), with a warning logged at the
  // 1st, 2nd, 4th, 8th, ... drop and a summary when the connection is back.
  int max_buffered = 10000;

  // When set, publish() checks the message and queues it for this thread, which makes the
  // Paho call (see PublishThread); clients may share one. nullptr: publish() calls Paho.
  std::shared_ptr<PublishThread> publisher;
};

// A thread that makes the Paho calls of publish() for the clients given it
// (ClientOptions::publisher), in the order they were queued. Paho C 1.3.12 serializes every
// client of a process on one mutex, which its receive thread holds while it polls every
// socket: with a thousand clients in one process (a simulated fleet) a publish() call waited
// there, and the caller's thread with it. With a PublishThread publish() returns after
// checking and queueing the message; publish_wait(), disconnect() and the destructor first
// wait until the thread has handed over what was queued before. Any number of clients may
// share one (they keep it alive). The queue is bounded: publish() blocks while it holds
// `max_queued` messages, so a producer faster than Paho is slowed down as without the thread
// instead of piling up work (a simulated fleet's fetch requests would otherwise flood the
// process with chunks it cannot take in).
class PublishThread {
 public:
  explicit PublishThread(std::size_t max_queued);
  // Hands over everything queued, then stops.
  ~PublishThread();
  PublishThread(const PublishThread&) = delete;
  PublishThread& operator=(const PublishThread&) = delete;

  // How long publishes waited in the queue, in real milliseconds (what a caller would have
  // waited instead, at most, plus the queue's own backlog).
  struct Stats {
    std::uint64_t published = 0;
    double wait_max_ms = 0;
    double wait_mean_ms = 0;
  };
  Stats stats() const;

 private:
  friend class MqttClient;
  struct Task {
    std::function<void()> run;
    std::chrono::steady_clock::time_point queued;
  };
  void post(std::function<void()> task);
  // Returns once every task posted before has run. Not on the thread itself.
  void flush();
  void loop();

  const std::size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;  // a task ran: flush() and a blocked post() look again
  std::deque<Task> queue_;
  std::uint64_t posted_ = 0;
  std::uint64_t ran_ = 0;
  double wait_max_ms_ = 0;
  double wait_sum_ms_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// Checks options before use (MqttClient's constructor calls it): a valid broker URI, a
// non-empty client id of at most 256 bytes, TLS files only with mqtts:// and a certificate
// only with its key, a password only with a user name, a valid will topic and QoS,
// max_buffered >= 1, max_inflight in 1..65535. Throws fleetml::Error naming the fault.
void check_client_options(const ClientOptions& options);

// An MQTT 5 client on Paho C++'s mqtt::async_client.
//
// Threading: every method may be called from any thread. Handlers (message and state) run on
// Paho's callback thread, which is ONE thread shared by every client of the process: a slow
// handler delays all messages of all clients, so handlers must be quick (parse, validate,
// hand the work to a queue). From a handler, publish() and unsubscribe() are fine, but
// connect(), disconnect(), subscribe() and publish_wait() would wait for an answer that the
// blocked callback thread itself has to deliver: they throw fleetml::Error instead of
// deadlocking. Do not destroy a client from one of its own handlers.
//
// Reconnection: after connect() succeeds the client reconnects by itself whenever the
// connection is lost, and re-subscribes every registered filter on every (re)connection (a
// broker restarted without persistence has forgotten them). Re-subscriptions ask for retained
// messages only if the broker had forgotten the subscription, so a resumed session does not
// replay them. Messages published meanwhile are buffered (ClientOptions::max_buffered).
//
// Flow control: at most ClientOptions::max_inflight QoS >= 1 publishes (and never more than
// the broker's receive maximum) are handed to Paho at a time; each acknowledgement sends the
// next. Paho C 1.3.12 itself would queue beyond the broker's window and resume only when its
// send thread wakes up on a timer, stalling bursts for a second per window (measured: 100
// QoS 1 messages to 100 clients took 4-5 s through a default mosquitto, 10 ms with a window).
// QoS 0 messages bypass the window, so their order relative to QoS >= 1 ones may differ.
//
// Dispatch: each subscription carries an MQTT 5 subscription identifier, so a message is
// handed to exactly the handler(s) whose subscription matched it, once each, even when
// filters overlap. A message whose identifiers name no current subscription (none given,
// or queued for a session that an earlier process created) goes to every handler whose
// filter matches its topic.
//
// Cost per client (measured by mqtt_client_test ManyClientsInOneProcess with
// FLEETML_MQTT_CLIENTS=1000, loopback mosquitto, 2 cores): about 14 KiB resident per
// connected client with three subscriptions, plus buffered messages; no thread of its own
// (Paho's two threads serve every client). 1000 clients connected and subscribed with
// connect_all in about 3 s; one QoS 1 message to each of them arrived within 0.6 s.
class MqttClient {
 public:
  using Handler = std::function<void(const Message&)>;
  // `connected` after a (re)connection, or false with the reason once it is lost.
  using StateHandler = std::function<void(bool connected, const std::string& reason)>;

  struct Stats {
    std::uint64_t published = 0;  // accepted by publish() / publish_wait()
    std::uint64_t received = 0;   // messages handed to at least one handler
    std::uint64_t dropped = 0;    // publishes lost because the buffer was full
    // Payload bytes of QoS >= 1 publishes accepted but not yet acknowledged by the broker
    // (waiting for the window, in flight, or buffered while disconnected): lets a producer
    // of bulk data bound what it has queued.
    std::uint64_t queued_bytes = 0;
  };

  // Checks the options (check_client_options) and prepares the client without connecting.
  explicit MqttClient(ClientOptions options);
  // Disconnects cleanly (the broker discards the will) waiting at most one second, then
  // releases everything; safe when the broker is gone. Handlers are not called afterwards.
  // With ClientOptions::publisher, first waits until its queue has handed over this client's
  // messages.
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  const ClientOptions& options() const;

  // Called on every change of connection state. Set it before connect().
  void on_state(StateHandler handler);

  // Connects and subscribes every filter registered so far, returning once the broker has
  // acknowledged them, or throws fleetml::Error with a one-line reason ("cannot connect to
  // mqtt://127.0.0.1:1883 as 'coordinator': TCP/TLS connect failure") when the broker is
  // unreachable, refuses the client, or does not answer within `timeout`. Register handlers
  // before connecting when the session is persistent: messages queued while offline arrive
  // right after the connection is accepted.
  void connect(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // connect() for many clients at once, returning when all are connected and subscribed;
  // throws fleetml::Error for the first that failed. Prefer it to a loop of connect(): with
  // Paho C 1.3.12 a connection started while other clients of the process are connected
  // takes about 2 s, because the network thread they share notices a new socket only when
  // its 1 s poll times out (eclipse-paho/paho.mqtt.c#1430, fixed in later releases);
  // connections started together share that wait (1000 clients connect in seconds instead of
  // half an hour).
  static void connect_all(const std::vector<MqttClient*>& clients,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Disconnects cleanly, waiting at most `timeout` for queued messages to leave. With
  // `send_will` the broker publishes the Last Will anyway (MQTT 5 reason 0x04), which lets
  // a simulated vehicle "crash" without a process. Stops automatic reconnection (also when
  // the connection is already lost); connect() may be called again.
  void disconnect(std::chrono::milliseconds timeout = std::chrono::seconds(1),
                  bool send_will = false);

  bool connected() const;

  // Registers `handler` for messages matching `filter` (MQTT wildcards '+' and '#') at up to
  // `qos`. When connected, subscribes and waits up to `timeout` for the broker's
  // acknowledgement; otherwise the subscription is made on the next connection. Throws
  // fleetml::Error for an invalid filter or QoS, a filter that already has a handler, a
  // refusal by the broker (e.g. not authorized) or no answer in time; the handler is then not
  // registered.
  void subscribe(const std::string& filter, int qos, Handler handler,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Removes the handler and unsubscribes without waiting. Unknown filters are ignored.
  void unsubscribe(const std::string& filter);

  // Queues a message and returns at once; delivery happens in the background (buffered while
  // disconnected). Throws fleetml::Error only for an invalid topic or QoS. With
  // ClientOptions::publisher the Paho call happens on that thread (a failure there is logged).
  void publish(Message message);
  void publish(std::string topic, std::string payload, int qos, bool retained = false);

  // Publishes and waits until the broker acknowledged it (QoS 1/2; for QoS 0, until it was
  // written to the socket). Throws fleetml::Error when that does not happen within `timeout`
  // (the message stays queued and may still be delivered later) or when called from a
  // handler.
  void publish_wait(Message message, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  Stats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetml::transport
