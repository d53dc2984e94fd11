#include "tools/fleetctl/operator_session.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <random>

#include "shared/common/cli.h"
#include "shared/common/error.h"
#include "shared/transport/broker_options.h"

namespace fleetml::fleetctl {

struct OperatorSession::Replies {
  std::mutex mutex;
  std::condition_variable arrived;
  std::map<std::string, v1::CatalogReply> by_request;
};

namespace {

std::string random_client_id() {
  std::random_device seed;
  std::mt19937_64 random(seed());
  return "fleetctl-" + std::to_string(random() % 1'000'000'000'000ULL);
}

}  // namespace

OperatorSession::OperatorSession(const cli::Args& args)
    : topics_(transport::topics(args)),
      client_id_(random_client_id()),
      replies_(std::make_unique<Replies>()) {
  transport::ClientOptions options = transport::client_options(args, client_id_);
  options.clean_start = true;
  options.session_expiry = std::chrono::seconds(0);
  options.reconnect_max = std::chrono::seconds(2);
  client_ = std::make_unique<transport::MqttClient>(options);
  client_->subscribe(topics_.catalog_reply(client_id_), 1, [this](const transport::Message& m) {
    v1::CatalogReply reply;
    if (!reply.ParseFromString(m.payload)) return;
    {
      std::lock_guard lock(replies_->mutex);
      replies_->by_request[reply.request_id()] = std::move(reply);
    }
    replies_->arrived.notify_all();
  });
  client_->connect(std::chrono::seconds(5));
}

OperatorSession::~OperatorSession() { client_->disconnect(); }

std::string OperatorSession::send(v1::CatalogRequest request) {
  const std::string id = std::to_string(++next_request_);
  request.set_request_id(id);
  request.set_reply_to(client_id_);
  client_->publish(topics_.catalog_request(), request.SerializeAsString(), 1);
  return id;
}

v1::CatalogReply OperatorSession::wait(const std::string& id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(replies_->mutex);
  if (!replies_->arrived.wait_for(lock, timeout,
                                  [&] { return replies_->by_request.count(id) > 0; })) {
    throw Error("no answer from the coordinator within " + std::to_string(timeout.count() / 1000) +
                " s (is fleet-coordinator running on " + client_->options().broker_uri +
                " with prefix " + topics_.prefix() + "?)");
  }
  v1::CatalogReply reply = std::move(replies_->by_request[id]);
  replies_->by_request.erase(id);
  return reply;
}

}  // namespace fleetml::fleetctl
