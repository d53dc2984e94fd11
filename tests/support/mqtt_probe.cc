#include "tests/support/mqtt_probe.h"

#include <atomic>
#include <thread>

#include <unistd.h>

namespace fleetml::test {
namespace {

transport::ClientOptions probe_options(const std::string& broker_uri, const std::string& what) {
  transport::ClientOptions options;
  options.broker_uri = broker_uri;
  options.client_id = unique_client_id(what);
  options.clean_start = true;
  options.session_expiry = std::chrono::seconds(0);
  return options;
}

}  // namespace

std::string unique_client_id(const std::string& what) {
  static std::atomic<int> counter{0};
  return what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

MqttProbe::MqttProbe(const std::string& broker_uri, const std::vector<std::string>& filters,
                     int qos)
    : broker_uri_(broker_uri),
      client_(std::make_unique<transport::MqttClient>(probe_options(broker_uri, "probe"))) {
  for (const std::string& filter : filters) {
    client_->subscribe(filter, qos, [this](const transport::Message& m) {
      {
        std::lock_guard lock(mutex_);
        messages_.push_back(m);
      }
      changed_.notify_all();
    });
  }
  client_->connect();
}

std::vector<transport::Message> MqttProbe::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

std::vector<transport::Message> MqttProbe::messages_on(const std::string& topic) const {
  std::vector<transport::Message> out;
  std::lock_guard lock(mutex_);
  for (const auto& m : messages_) {
    if (m.topic == topic) out.push_back(m);
  }
  return out;
}

std::size_t MqttProbe::count() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

void MqttProbe::clear() {
  std::lock_guard lock(mutex_);
  messages_.clear();
}

bool MqttProbe::wait_for_count(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
}

std::optional<transport::Message> MqttProbe::wait_for(const std::string& topic,
                                                      std::chrono::milliseconds timeout,
                                                      const Match& match) {
  std::optional<transport::Message> found;
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] {
    for (const auto& m : messages_) {
      if (m.topic == topic && (!match || match(m))) {
        found = m;
        return true;
      }
    }
    return false;
  });
  return found;
}

std::optional<transport::Message> MqttProbe::wait_for_retained(const std::string& topic,
                                                               std::chrono::milliseconds timeout,
                                                               const Match& match) {
  if (!reader_) {
    reader_ = std::make_unique<transport::MqttClient>(probe_options(broker_uri_, "reader"));
    reader_->connect();
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    // Shared with the handler, which may still run after this iteration unsubscribed.
    struct Waiter {
      std::mutex mutex;
      std::condition_variable cv;
      Match match;
      std::optional<transport::Message> found;
    };
    auto waiter = std::make_shared<Waiter>();
    waiter->match = match;
    reader_->subscribe(topic, 1, [waiter](const transport::Message& msg) {
      if (!msg.retained || (waiter->match && !waiter->match(msg))) return;
      {
        std::lock_guard lock(waiter->mutex);
        waiter->found = msg;
      }
      waiter->cv.notify_all();
    });
    // The broker sends retained messages right after acknowledging a new subscription.
    std::optional<transport::Message> found;
    {
      std::unique_lock lock(waiter->mutex);
      waiter->cv.wait_for(lock, std::chrono::milliseconds(100),
                          [&] { return waiter->found.has_value(); });
      found = waiter->found;
    }
    reader_->unsubscribe(topic);  // the next subscription is new again: retained resent
    if (found) return found;
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

}  // namespace fleetml::test
