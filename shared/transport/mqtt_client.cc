#include "shared/transport/mqtt_client.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>

#include "shared/common/error.h"
#include "shared/common/log.h"
#include "shared/messages/topics.h"

extern "C" {
#include <MQTTReasonCodes.h>
}

namespace mqtt {
// Paho C++ 1.2 builds disconnect_options from the MQTT 3 C initializer (struct_version 0), so
// Paho C ignores the reason code of an MQTT 5 DISCONNECT and "disconnect with will" is sent
// as a normal disconnect (1.3 adds disconnect_options::v5()). The class Paho's own unit tests
// are befriended with is the only way to the C struct; Paho ships no such class itself.
class disconnect_options_test {
 public:
  static void use_mqtt5_layout(disconnect_options& options) { options.opts_.struct_version = 1; }
};
}  // namespace mqtt

namespace fleetml::transport {
namespace {

constexpr std::string_view kLog = "mqtt";
constexpr std::chrono::milliseconds kMinDisconnectWait{100};

// Set while this thread runs one of our Paho callbacks. All clients of the process share
// Paho's callback thread, so waiting there for any broker answer would block forever.
thread_local bool t_in_callback = false;

class CallbackScope {
 public:
  CallbackScope() { t_in_callback = true; }
  ~CallbackScope() { t_in_callback = false; }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;
};

void refuse_in_callback(std::string_view what) {
  if (t_in_callback) {
    throw Error(std::string(what) +
                " called from an MQTT handler: it would wait on the callback thread that has to "
                "deliver the answer; use publish() or hand the work to another thread");
  }
}

void check_qos(int qos) {
  if (qos < 0 || qos > 2) throw Error("invalid MQTT QoS " + std::to_string(qos));
}

void check_topic_name(std::string_view topic) {
  if (!messages::is_valid_topic_name(topic)) {
    throw Error("invalid MQTT topic '" + std::string(topic) + "'");
  }
}

// A one-line reason for a failed Paho operation.
std::string describe(const mqtt::exception& e) {
  const int reason = e.get_reason_code();
  if (reason >= 0x80) {
    return std::string("broker refused: ") +
           MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(reason));
  }
  std::string message = e.get_message();
  if (message.empty()) message = e.get_error_str();
  if (message.empty()) message = "error " + std::to_string(e.get_return_code());
  return message;
}

std::chrono::milliseconds remaining(std::chrono::steady_clock::time_point deadline) {
  return std::max(std::chrono::milliseconds{0},
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now()));
}

// How a publish ends, for publish_wait: QoS 0 through Paho's token, QoS >= 1 through the
// window's completion callback (the message may wait in our queue before Paho has a token).
struct Delivery {
  mqtt::delivery_token_ptr qos0_token;
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  std::string error;  // empty on success
  // QoS >= 1: payload bytes counted in the client's outstanding total until finished.
  std::atomic<std::uint64_t>* outstanding = nullptr;
  std::uint64_t bytes = 0;

  void count(std::atomic<std::uint64_t>& total, std::uint64_t payload_bytes) {
    bytes = payload_bytes;
    outstanding = &total;
    total += payload_bytes;
  }

  void finish(std::string why) {
    {
      std::lock_guard lock(mutex);
      if (done) return;
      done = true;
      error = std::move(why);
      if (outstanding != nullptr) *outstanding -= bytes;
    }
    cv.notify_all();
  }

  // True when it ended before `deadline`, with `out_error` set (empty on success). Throws
  // mqtt::exception for a failed QoS 0 publish.
  bool wait_until(std::chrono::steady_clock::time_point deadline, std::string& out_error) {
    if (qos0_token) return qos0_token->wait_for(remaining(deadline));
    std::unique_lock lock(mutex);
    if (!cv.wait_until(lock, deadline, [&] { return done; })) return false;
    out_error = error;
    return true;
  }
};

}  // namespace

std::string BrokerAddress::paho_uri() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return std::string(tls ? "ssl://" : "tcp://") + (ipv6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

BrokerAddress parse_broker_uri(std::string_view uri) {
  const auto fail = [&](std::string_view why) {
    return Error("broker URI '" + std::string(uri) + "': " + std::string(why));
  };
  BrokerAddress address;
  std::string_view rest;
  if (uri.starts_with("mqtt://")) {
    rest = uri.substr(7);
  } else if (uri.starts_with("mqtts://")) {
    address.tls = true;
    rest = uri.substr(8);
  } else {
    throw fail("expected mqtt://host[:port] or mqtts://host[:port]");
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != rest.npos) {
    throw fail("only host and port are allowed (credentials go in --username/--password)");
  }
  std::string_view port_text;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == rest.npos) throw fail("unterminated IPv6 address");
    address.host = std::string(rest.substr(1, close - 1));
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) throw fail("unexpected text after ']'");
    if (!after.empty()) port_text = after.substr(1);
  } else {
    const auto colon = rest.rfind(':');
    address.host = std::string(rest.substr(0, colon));
    if (colon != rest.npos) port_text = rest.substr(colon + 1);
    if (address.host.find(':') != std::string::npos) {
      throw fail("IPv6 addresses go in brackets, e.g. mqtt://[::1]:1883");
    }
  }
  if (address.host.empty()) throw fail("missing host");
  if (port_text.empty()) {
    if (rest.ends_with(':')) throw fail("missing port after ':'");
    address.port = address.tls ? 8883 : 1883;
  } else {
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), address.port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || address.port < 1 ||
        address.port > 65535) {
      throw fail("port '" + std::string(port_text) + "' is not a number in 1..65535");
    }
  }
  return address;
}

void check_client_options(const ClientOptions& options) {
  const BrokerAddress address = parse_broker_uri(options.broker_uri);
  if (options.client_id.empty()) throw Error("MQTT client id is empty");
  if (options.client_id.size() > 256) {
    throw Error("MQTT client id '" + options.client_id + "' is longer than 256 bytes");
  }
  const TlsOptions& tls = options.tls;
  if (!address.tls && (!tls.ca_file.empty() || !tls.cert_file.empty() || !tls.key_file.empty())) {
    throw Error("TLS files are given but broker " + options.broker_uri + " is not mqtts://");
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    throw Error("a TLS client certificate needs its key and the reverse");
  }
  if (!options.password.empty() && options.username.empty()) {
    throw Error("an MQTT password needs a user name");
  }
  if (options.will) {
    check_topic_name(options.will->topic);
    check_qos(options.will->qos);
  }
  if (options.max_buffered < 1) {
    throw Error("MQTT max_buffered must be at least 1, got " +
                std::to_string(options.max_buffered));
  }
  if (options.max_inflight < 1 || options.max_inflight > 65535) {
    throw Error("MQTT max_inflight must be in 1..65535, got " +
                std::to_string(options.max_inflight));
  }
}

class MqttClient::Impl {
  friend class MqttClient;  // connect_all drives the phases of several clients

 public:
  explicit Impl(ClientOptions options)
      : options_(std::move(options)), address_(parse_broker_uri(options_.broker_uri)) {
    check_client_options(options_);
    window_ = static_cast<std::size_t>(options_.max_inflight);
    mqtt::create_options create(MQTTVERSION_5);
    // Buffer while disconnected, also before the first connect, and refuse (rather than
    // silently evict the oldest) when full, so drops are counted and reported.
    create.set_send_while_disconnected(true, /*anyTime=*/true);
    create.set_max_buffered_messages(options_.max_buffered + options_.max_inflight);
    create.set_delete_oldest_messages(false);
    client_ = std::make_unique<mqtt::async_client>(address_.paho_uri(), options_.client_id, create,
                                                   /*persistence=*/nullptr);
    client_->set_connected_handler([this](const std::string& cause) { on_connected(cause); });
    client_->set_connection_lost_handler(
        [this](const std::string& cause) { on_lost(cause.empty() ? "connection lost" : cause); });
    client_->set_disconnected_handler([this](const mqtt::properties&, mqtt::ReasonCode code) {
      on_lost(std::string("broker disconnected us: ") +
              MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(code)));
    });
    client_->set_message_callback([this](mqtt::const_message_ptr msg) { on_message(*msg); });
  }

  ~Impl() {
    mute();
    {
      std::lock_guard lock(mutex_);
      state_handler_ = nullptr;  // the application may be tearing down what it captured
    }
    disconnect_now(std::chrono::seconds(1), /*send_will=*/false);
    try {
      client_->disable_callbacks();
    } catch (const mqtt::exception&) {
      // Refused while a reconnection attempt is in flight; closed_ already mutes callbacks.
    }
    client_.reset();  // while the mutexes its callbacks use still exist
  }

  const ClientOptions& options() const { return options_; }

  // Waits for a callback in progress; later ones see closed_ and return, so no handler of
  // this client runs (nor publishes) after this.
  void mute() {
    std::lock_guard callbacks(callback_mutex_);
    closed_ = true;
  }

  void on_state(StateHandler handler) {
    std::lock_guard lock(mutex_);
    state_handler_ = std::move(handler);
  }

  // First half of connect(): starts connecting; nullptr when already connected.
  mqtt::token_ptr start_connect(std::chrono::milliseconds timeout) {
    refuse_in_callback("MqttClient::connect");
    if (client_->is_connected()) return nullptr;
    mqtt::connect_options opts;
    fill_connect_options(opts, timeout);
    try {
      return client_->connect(opts);
    } catch (const mqtt::exception& e) {
      throw Error(cannot_connect() + describe(e));
    }
  }

  // Second half: waits for the broker to accept the connection (false when already
  // connected, nothing to do).
  bool await_connection(const mqtt::token_ptr& token,
                        std::chrono::steady_clock::time_point deadline,
                        std::chrono::milliseconds timeout) {
    if (!token) return false;
    try {
      if (!token->wait_for(remaining(deadline))) {
        abandon_connect();
        throw Error(cannot_connect() + "no answer within " + std::to_string(timeout.count()) +
                    " ms");
      }
    } catch (const mqtt::exception& e) {
      throw Error(cannot_connect() + describe(e));
    }
    const mqtt::connect_response response = token->get_connect_response();
    const mqtt::properties& connack = response.get_properties();
    if (connack.contains(mqtt::property::RECEIVE_MAXIMUM)) {
      const auto broker_max = mqtt::get<std::uint16_t>(connack, mqtt::property::RECEIVE_MAXIMUM);
      std::lock_guard lock(send_mutex_);
      window_ = std::min<std::size_t>(options_.max_inflight, broker_max);
    }
    return true;
  }

  // Then the subscriptions, so they are active when connect() returns. The connected handler
  // re-subscribes too; both use retain handling "only if new", so the overlap causes no
  // duplicate retained messages.
  using PendingSubscriptions = std::vector<std::pair<std::string, mqtt::token_ptr>>;
  void await_subscriptions(const PendingSubscriptions& pending,
                           std::chrono::steady_clock::time_point deadline) {
    for (const auto& [filter, token] : pending) wait_subscribed(filter, token, deadline);
  }

  void disconnect(std::chrono::milliseconds timeout, bool send_will) {
    refuse_in_callback("MqttClient::disconnect");
    disconnect_now(timeout, send_will);
  }

  bool has_unsent() {
    {
      std::lock_guard lock(send_mutex_);
      if (inflight_ > 0 || !queue_.empty()) return true;
    }
    return !client_->get_pending_delivery_tokens().empty();
  }

  void disconnect_now(std::chrono::milliseconds timeout, bool send_will) {
    const bool was_connected = client_->is_connected();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // Let queued messages reach the broker first. Paho's own disconnect timeout does
    // the same but completes only on its next network poll, up to a second later.
    while (was_connected && has_unsent() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    // Called even when not connected: that is what stops Paho's reconnection attempts.
    try {
      mqtt::disconnect_options opts(0);
      mqtt::disconnect_options_test::use_mqtt5_layout(opts);
      if (send_will) opts.set_reason_code(mqtt::ReasonCode::DISCONNECT_WITH_WILL_MESSAGE);
      mqtt::token_ptr token = client_->disconnect(opts);
      if (was_connected && !token->wait_for(std::max(remaining(deadline), kMinDisconnectWait))) {
        log::debug(kLog, "disconnect not acknowledged in time", {{"client", options_.client_id}});
      }
    } catch (const mqtt::exception& e) {
      if (e.get_return_code() != MQTTASYNC_DISCONNECTED) {
        log::debug(kLog, "disconnect failed",
                   {{"client", options_.client_id}, {"error", describe(e)}});
      }
    }
    set_state(false, "disconnected by the application");
  }

  bool connected() const { return client_->is_connected(); }

  void subscribe(const std::string& filter, int qos, Handler handler,
                 std::chrono::milliseconds timeout) {
    if (!messages::is_valid_topic_filter(filter)) {
      throw Error("invalid MQTT topic filter '" + filter + "'");
    }
    check_qos(qos);
    if (!handler) throw Error("subscribe " + filter + ": empty handler");
    refuse_in_callback("MqttClient::subscribe");
    int id = 0;
    {
      std::lock_guard lock(mutex_);
      if (subscriptions_.contains(filter)) throw Error("already subscribed to " + filter);
      id = next_subscription_id_++;
      subscriptions_.emplace(filter,
                             Subscription{id, qos, std::make_shared<Handler>(std::move(handler))});
    }
    if (!client_->is_connected()) return;
    const auto forget = [&] {
      std::lock_guard lock(mutex_);
      subscriptions_.erase(filter);  // not re-subscribed on reconnection either
    };
    mqtt::token_ptr token;
    try {
      token = send_subscribe(filter, id, qos);
    } catch (const mqtt::exception& e) {
      forget();
      throw Error("subscribe to " + filter + " as '" + options_.client_id + "': " + describe(e));
    }
    try {
      wait_subscribed(filter, token, std::chrono::steady_clock::now() + timeout);
    } catch (const Error&) {
      forget();
      throw;
    }
  }

  void unsubscribe(const std::string& filter) {
    {
      std::lock_guard lock(mutex_);
      if (subscriptions_.erase(filter) == 0) return;
    }
    if (!client_->is_connected()) return;
    try {
      client_->unsubscribe(filter);
    } catch (const mqtt::exception& e) {
      log::warn(kLog, "unsubscribe failed",
                {{"client", options_.client_id}, {"filter", filter}, {"error", describe(e)}});
    }
  }

  // Queues `m`; for publish_wait, returns how to learn that the broker has it (nullptr when
  // dropped because the buffer is full).
  std::shared_ptr<Delivery> publish(Message m) {
    check_topic_name(m.topic);
    check_qos(m.qos);
    auto msg = mqtt::make_message(std::move(m.topic), std::move(m.payload), m.qos, m.retained);
    if (!m.response_topic.empty() || !m.correlation_data.empty()) {
      mqtt::properties props;
      if (!m.response_topic.empty()) {
        props.add({mqtt::property::RESPONSE_TOPIC, m.response_topic});
      }
      if (!m.correlation_data.empty()) {
        props.add({mqtt::property::CORRELATION_DATA, m.correlation_data});
      }
      msg->set_properties(std::move(props));
    }
    auto delivery = std::make_shared<Delivery>();
    if (msg->get_qos() == 0) {
      try {
        delivery->qos0_token = client_->publish(msg);
      } catch (const mqtt::exception& e) {
        if (e.get_return_code() != MQTTASYNC_MAX_BUFFERED_MESSAGES) {
          throw Error("publish to " + msg->get_topic() + ": " + describe(e));
        }
        note_drop();
        return nullptr;
      }
      ++published_;
      return delivery;
    }
    // Paho is called without send_mutex_: its callbacks may run holding Paho's own lock and
    // take send_mutex_ (on_delivered), so holding ours here could deadlock.
    {
      std::lock_guard lock(send_mutex_);
      if (!queue_.empty() || inflight_ >= window_) {
        if (queue_.size() >= static_cast<std::size_t>(options_.max_buffered)) {
          note_drop();
          return nullptr;
        }
        delivery->count(outstanding_bytes_, msg->get_payload().size());
        queue_.push_back({std::move(msg), delivery});
        ++published_;
        return delivery;  // sent by on_delivered when a slot frees
      }
      ++inflight_;
    }
    delivery->count(outstanding_bytes_, msg->get_payload().size());
    mqtt::delivery_token_ptr token;
    try {
      token = client_->publish(msg, nullptr, listener_);
    } catch (const mqtt::exception& e) {
      {
        std::lock_guard lock(send_mutex_);
        --inflight_;
      }
      delivery->finish(describe(e));
      if (e.get_return_code() == MQTTASYNC_MAX_BUFFERED_MESSAGES) {
        note_drop();
        return nullptr;
      }
      throw Error("publish to " + msg->get_topic() + ": " + describe(e));
    }
    ++published_;
    std::lock_guard lock(send_mutex_);
    track_locked(token, delivery);
    return delivery;
  }

  void publish_wait(Message m, std::chrono::milliseconds timeout) {
    refuse_in_callback("MqttClient::publish_wait");
    const std::string topic = m.topic;
    const std::shared_ptr<Delivery> delivery = publish(std::move(m));
    if (!delivery) {
      throw Error("publish to " + topic + ": dropped, the buffer of " +
                  std::to_string(options_.max_buffered) + " messages is full");
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string error;
    bool done = false;
    try {
      done = delivery->wait_until(deadline, error);
    } catch (const mqtt::exception& e) {
      error = describe(e);
      done = true;
    }
    if (!done) {
      throw Error("publish to " + topic + ": not acknowledged within " +
                  std::to_string(timeout.count()) + " ms" +
                  (client_->is_connected() ? "" : " (disconnected, still queued)"));
    }
    if (!error.empty()) throw Error("publish to " + topic + ": " + error);
  }

  Stats stats() const {
    return {published_.load(), received_.load(), dropped_.load(), outstanding_bytes_.load()};
  }

 private:
  struct Subscription {
    int id;  // MQTT 5 subscription identifier
    int qos;
    std::shared_ptr<Handler> handler;
  };

  struct Outgoing {
    mqtt::message_ptr message;
    std::shared_ptr<Delivery> delivery;
  };

  // Completions of QoS >= 1 publishes: frees a slot of the window and sends what waits.
  class DeliveryListener : public mqtt::iaction_listener {
   public:
    explicit DeliveryListener(Impl& impl) : impl_(impl) {}
    void on_success(const mqtt::token& token) override { impl_.on_delivered(token, ""); }
    void on_failure(const mqtt::token& token) override {
      const int reason = token.get_reason_code();
      impl_.on_delivered(token,
                         reason >= 0x80
                             ? std::string("broker refused: ") +
                                   MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(reason))
                             : "delivery failed, error " + std::to_string(token.get_return_code()));
    }

   private:
    Impl& impl_;
  };

  // Remembers whom to tell when `token` completes, or tells at once if it already did.
  // send_mutex_ held.
  void track_locked(const mqtt::delivery_token_ptr& token,
                    const std::shared_ptr<Delivery>& delivery) {
    if (const auto it = completed_early_.find(token.get()); it != completed_early_.end()) {
      delivery->finish(it->second);
      completed_early_.erase(it);
    } else {
      waiting_[token.get()] = delivery;
    }
  }

  // Sends queued messages while the window has room. Only on Paho's callback thread (with
  // send_mutex_ held), which keeps the queue's order.
  void drain_locked() {
    while (inflight_ < window_ && !queue_.empty()) {
      Outgoing next = std::move(queue_.front());
      queue_.pop_front();
      try {
        const mqtt::delivery_token_ptr token = client_->publish(next.message, nullptr, listener_);
        ++inflight_;
        track_locked(token, next.delivery);
      } catch (const mqtt::exception& e) {
        if (e.get_return_code() == MQTTASYNC_MAX_BUFFERED_MESSAGES) {
          note_drop();
        } else {
          log::error(kLog, "publish failed",
                     {{"client", options_.client_id},
                      {"topic", next.message->get_topic()},
                      {"error", describe(e)}});
        }
        next.delivery->finish(describe(e));
      }
    }
  }

  // Every QoS >= 1 publish we hand to Paho ends here once: its slot frees and the queue moves.
  void on_delivered(const mqtt::token& token, const std::string& error) {
    std::lock_guard lock(send_mutex_);
    --inflight_;
    if (const auto it = waiting_.find(&token); it != waiting_.end()) {
      it->second->finish(error);
      waiting_.erase(it);
    } else {
      completed_early_[&token] = error;  // the publishing thread has not tracked it yet
    }
    if (!error.empty()) {
      log::warn(kLog, "publish not delivered", {{"client", options_.client_id}, {"error", error}});
    }
    drain_locked();
  }

  // Fills `opts` in place: Paho C++ 1.2 does not re-point connect properties when
  // connect_options are copied or moved (fixed in 1.3), so the object whose set_properties()
  // was called must outlive the async_client::connect() call that copies it.
  void fill_connect_options(mqtt::connect_options& opts, std::chrono::milliseconds timeout) const {
    opts.set_mqtt_version(MQTTVERSION_5);
    opts.set_clean_start(options_.clean_start);
    opts.set_keep_alive_interval(options_.keep_alive);
    opts.set_connect_timeout(
        std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(timeout)));
    opts.set_automatic_reconnect(options_.reconnect_min, options_.reconnect_max);
    if (!options_.username.empty()) {
      opts.set_user_name(options_.username);
      opts.set_password(options_.password);
    }
    if (options_.will) {
      const Will& w = *options_.will;
      opts.set_will(mqtt::will_options(w.topic, w.payload, w.qos, w.retained));
    }
    if (address_.tls) {
      mqtt::ssl_options ssl;
      if (!options_.tls.ca_file.empty()) ssl.set_trust_store(options_.tls.ca_file);
      if (!options_.tls.cert_file.empty()) ssl.set_key_store(options_.tls.cert_file);
      if (!options_.tls.key_file.empty()) ssl.set_private_key(options_.tls.key_file);
      ssl.set_enable_server_cert_auth(true);
      ssl.set_verify(true);  // host name must match the certificate
      opts.set_ssl(std::move(ssl));
    }
    opts.set_properties(mqtt::properties{{mqtt::property::SESSION_EXPIRY_INTERVAL,
                                          static_cast<int>(options_.session_expiry.count())}});
  }

  std::string cannot_connect() const {
    return "cannot connect to " + options_.broker_uri + " as '" + options_.client_id + "': ";
  }

  // After a timed-out connect, stop Paho from completing it behind the caller's back.
  void abandon_connect() {
    try {
      client_->disconnect(0);
    } catch (const mqtt::exception&) {
      // Not connected: nothing to abandon.
    }
  }

  mqtt::token_ptr send_subscribe(const std::string& filter, int id, int qos) {
    const mqtt::subscribe_options opts(/*noLocal=*/false, /*retainAsPublished=*/false,
                                       mqtt::subscribe_options::SEND_RETAINED_ON_NEW);
    return client_->subscribe(filter, qos, opts,
                              mqtt::properties{{mqtt::property::SUBSCRIPTION_IDENTIFIER, id}});
  }

  PendingSubscriptions subscribe_all() {
    std::vector<std::tuple<std::string, int, int>> wanted;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [filter, sub] : subscriptions_) wanted.emplace_back(filter, sub.id, sub.qos);
    }
    std::vector<std::pair<std::string, mqtt::token_ptr>> tokens;
    for (const auto& [filter, id, qos] : wanted) {
      try {
        tokens.emplace_back(filter, send_subscribe(filter, id, qos));
      } catch (const mqtt::exception& e) {
        log::error(kLog, "subscribe failed",
                   {{"client", options_.client_id}, {"filter", filter}, {"error", describe(e)}});
      }
    }
    return tokens;
  }

  void wait_subscribed(const std::string& filter, const mqtt::token_ptr& token,
                       std::chrono::steady_clock::time_point deadline) {
    const std::string who = "subscribe to " + filter + " as '" + options_.client_id + "': ";
    try {
      if (!token->wait_for(remaining(deadline))) throw Error(who + "no acknowledgement in time");
    } catch (const mqtt::exception& e) {
      throw Error(who + describe(e));
    }
    const int reason = token->get_reason_code();
    if (reason >= 0x80) {
      throw Error(
          who + "broker refused: " + MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(reason)));
    }
  }

  void on_connected(const std::string& cause) {
    CallbackScope scope;
    std::lock_guard callbacks(callback_mutex_);
    if (closed_) return;
    const bool reconnect = ever_connected_.exchange(true);
    if (const std::uint64_t lost = dropped_while_offline_.exchange(0); lost > 0) {
      log::warn(kLog, "messages were dropped while disconnected (offline buffer full)",
                {{"client", options_.client_id},
                 {"dropped", lost},
                 {"max_buffered", options_.max_buffered}});
    }
    if (reconnect) {
      log::info(kLog, "reconnected", {{"client", options_.client_id}});
      subscribe_all();  // acknowledgements are not awaited on the callback thread
    }
    set_state(true, cause);
  }

  void on_lost(const std::string& reason) {
    CallbackScope scope;
    std::lock_guard callbacks(callback_mutex_);
    if (closed_) return;
    log::warn(kLog, "connection lost, reconnecting",
              {{"client", options_.client_id}, {"broker", options_.broker_uri}, {"error", reason}});
    set_state(false, reason);
  }

  // Calls the state handler on changes only: Paho may report one loss twice (server
  // DISCONNECT, then connection lost).
  void set_state(bool connected, const std::string& reason) {
    if (connected_state_.exchange(connected) == connected) return;
    StateHandler handler;
    {
      std::lock_guard lock(mutex_);
      handler = state_handler_;
    }
    if (!handler) return;
    try {
      handler(connected, reason);
    } catch (const std::exception& e) {
      log::error(kLog, "state handler failed",
                 {{"client", options_.client_id}, {"error", e.what()}});
    }
  }

  void on_message(const mqtt::message& msg) {
    CallbackScope scope;
    std::lock_guard callbacks(callback_mutex_);
    if (closed_) return;
    Message m{msg.get_topic(), msg.get_payload_str(), msg.get_qos(), msg.is_retained(), {}, {}};
    const mqtt::properties& props = msg.get_properties();
    if (props.contains(mqtt::property::RESPONSE_TOPIC)) {
      m.response_topic = mqtt::get<std::string>(props, mqtt::property::RESPONSE_TOPIC);
    }
    if (props.contains(mqtt::property::CORRELATION_DATA)) {
      m.correlation_data = mqtt::get<std::string>(props, mqtt::property::CORRELATION_DATA);
    }
    std::vector<int> ids;
    for (std::size_t i = 0; i < props.count(mqtt::property::SUBSCRIPTION_IDENTIFIER); ++i) {
      ids.push_back(mqtt::get<int>(props, mqtt::property::SUBSCRIPTION_IDENTIFIER, i));
    }
    const std::vector<std::shared_ptr<Handler>> handlers = handlers_for(m.topic, ids);
    if (handlers.empty()) {
      log::debug(kLog, "message without a handler",
                 {{"client", options_.client_id}, {"topic", m.topic}});
      return;
    }
    ++received_;
    for (const auto& handler : handlers) {
      try {
        (*handler)(m);
      } catch (const std::exception& e) {
        log::error(kLog, "message handler failed",
                   {{"client", options_.client_id}, {"topic", m.topic}, {"error", e.what()}});
      }
    }
  }

  std::vector<std::shared_ptr<Handler>> handlers_for(const std::string& topic,
                                                     const std::vector<int>& ids) const {
    std::vector<std::shared_ptr<Handler>> by_id;
    std::vector<std::shared_ptr<Handler>> by_match;
    std::lock_guard lock(mutex_);
    for (const auto& [filter, sub] : subscriptions_) {
      if (!messages::topic_matches(filter, topic)) continue;
      by_match.push_back(sub.handler);
      if (std::find(ids.begin(), ids.end(), sub.id) != ids.end()) by_id.push_back(sub.handler);
    }
    return by_id.empty() ? by_match : by_id;
  }

  void note_drop() {
    const std::uint64_t total = ++dropped_;
    const std::uint64_t n = ++dropped_while_offline_;
    if ((n & (n - 1)) == 0) {  // 1st, 2nd, 4th, 8th, ... drop of this outage
      log::warn(kLog, "offline buffer full, dropping published messages",
                {{"client", options_.client_id},
                 {"dropped", total},
                 {"max_buffered", options_.max_buffered}});
    }
  }

  const ClientOptions options_;
  BrokerAddress address_;
  std::unique_ptr<mqtt::async_client> client_;

  mutable std::mutex mutex_;  // subscriptions_, next_subscription_id_, state_handler_
  std::map<std::string, Subscription, std::less<>> subscriptions_;
  int next_subscription_id_ = 1;
  StateHandler state_handler_;

  // Flow control of QoS >= 1 publishes. Paho C 1.3.12 sends a publish beyond the broker's
  // receive maximum only when its send thread next wakes (a new command or a 1 s timer), so a
  // burst stalls for a second per window. Keeping at most window_ in flight and sending the
  // next from the completion callback (a new command) avoids that.
  std::mutex send_mutex_;
  std::size_t window_;
  std::size_t inflight_ = 0;
  std::deque<Outgoing> queue_;
  std::map<const mqtt::token*, std::shared_ptr<Delivery>> waiting_;
  std::map<const mqtt::token*, std::string> completed_early_;
  DeliveryListener listener_{*this};

  std::mutex callback_mutex_;  // held while a callback runs; closed_ under it
  bool closed_ = false;

  std::atomic<bool> ever_connected_{false};
  std::atomic<bool> connected_state_{false};
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> dropped_while_offline_{0};
  std::atomic<std::uint64_t> outstanding_bytes_{0};
};

PublishThread::PublishThread(std::size_t max_queued)
    : max_queued_(std::max<std::size_t>(max_queued, 1)), thread_([this] { loop(); }) {}

PublishThread::~PublishThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

PublishThread::Stats PublishThread::stats() const {
  std::lock_guard lock(mutex_);
  return {ran_, wait_max_ms_, ran_ == 0 ? 0 : wait_sum_ms_ / static_cast<double>(ran_)};
}

void PublishThread::post(std::function<void()> task) {
  {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return queue_.size() < max_queued_; });
    queue_.push_back({std::move(task), std::chrono::steady_clock::now()});
    ++posted_;
  }
  wake_.notify_one();
}

void PublishThread::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = posted_;
  done_.wait(lock, [&] { return ran_ >= target; });
}

void PublishThread::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, everything handed over
    Task task = std::move(queue_.front());
    queue_.pop_front();
    const double wait_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - task.queued)
            .count();
    lock.unlock();
    task.run();  // MqttClient's task catches what Impl::publish throws
    task = {};   // its message goes before the lock is taken again
    lock.lock();
    wait_max_ms_ = std::max(wait_max_ms_, wait_ms);
    wait_sum_ms_ += wait_ms;
    ++ran_;
    done_.notify_all();
  }
}

MqttClient::MqttClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

MqttClient::~MqttClient() {
  if (impl_->options().publisher) {
    // Handlers first, so none can queue a publish for this client once the queue is flushed:
    // the queued task would run after the client is gone.
    impl_->mute();
    impl_->options().publisher->flush();
  }
}

const ClientOptions& MqttClient::options() const { return impl_->options(); }

void MqttClient::on_state(StateHandler handler) { impl_->on_state(std::move(handler)); }

void MqttClient::connect(std::chrono::milliseconds timeout) { connect_all({this}, timeout); }

void MqttClient::connect_all(const std::vector<MqttClient*>& clients,
                             std::chrono::milliseconds timeout) {
  // Each phase is started for every client before any is awaited, so the clients share
  // Paho's network-thread latencies instead of paying them one after the other.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<mqtt::token_ptr> connecting;
  connecting.reserve(clients.size());
  for (MqttClient* client : clients) connecting.push_back(client->impl_->start_connect(timeout));
  std::vector<MqttClient*> connected;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (clients[i]->impl_->await_connection(connecting[i], deadline, timeout)) {
      connected.push_back(clients[i]);
    }
  }
  std::vector<Impl::PendingSubscriptions> subscribing;
  subscribing.reserve(connected.size());
  for (MqttClient* client : connected) {
    subscribing.push_back(client->impl_->subscribe_all());
  }
  for (std::size_t i = 0; i < connected.size(); ++i) {
    connected[i]->impl_->await_subscriptions(subscribing[i], deadline);
  }
}

void MqttClient::disconnect(std::chrono::milliseconds timeout, bool send_will) {
  refuse_in_callback("MqttClient::disconnect");
  if (impl_->options().publisher) impl_->options().publisher->flush();
  impl_->disconnect(timeout, send_will);
}

bool MqttClient::connected() const { return impl_->connected(); }

void MqttClient::subscribe(const std::string& filter, int qos, Handler handler,
                           std::chrono::milliseconds timeout) {
  impl_->subscribe(filter, qos, std::move(handler), timeout);
}

void MqttClient::unsubscribe(const std::string& filter) { impl_->unsubscribe(filter); }

void MqttClient::publish(Message message) {
  PublishThread* publisher = impl_->options().publisher.get();
  if (publisher == nullptr) {
    impl_->publish(std::move(message));
    return;
  }
  check_topic_name(message.topic);  // the caller hears of its own mistakes
  check_qos(message.qos);
  publisher->post([impl = impl_.get(), m = std::move(message)]() mutable {
    try {
      impl->publish(std::move(m));
    } catch (const Error& e) {
      log::error(kLog, "publish failed",
                 {{"client", impl->options().client_id}, {"error", e.what()}});
    }
  });
}

void MqttClient::publish(std::string topic, std::string payload, int qos, bool retained) {
  publish(Message{std::move(topic), std::move(payload), qos, retained, {}, {}});
}

void MqttClient::publish_wait(Message message, std::chrono::milliseconds timeout) {
  refuse_in_callback("MqttClient::publish_wait");
  // After what this client queued before, as without a publisher.
  if (impl_->options().publisher) impl_->options().publisher->flush();
  impl_->publish_wait(std::move(message), timeout);
}

MqttClient::Stats MqttClient::stats() const { return impl_->stats(); }

}  // namespace fleetml::transport
