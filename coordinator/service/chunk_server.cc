#include "coordinator/service/chunk_server.h"

#include <chrono>

#include "shared/common/log.h"
#include "shared/common/thread_name.h"
#include "shared/delivery/content_store.h"

namespace fleetml::coordinator {
namespace {
constexpr const char* kLog = "chunks";
}

ChunkServer::ChunkServer(const catalog::Catalog& catalog, transport::MqttClient& bulk,
                         const messages::Topics& topics, Options options)
    : catalog_(catalog), bulk_(bulk), topics_(topics), options_(options) {}

ChunkServer::~ChunkServer() { stop(); }

void ChunkServer::enqueue(const std::string& vehicle_id, v1::FetchRequest request) {
  {
    std::lock_guard lock(mutex_);
    ++stats_.requests;
    auto& queue = queues_[vehicle_id];
    queue.push_back(std::move(request));
    while (queue.size() > options_.max_requests_per_vehicle) queue.pop_front();
  }
  wake_.notify_one();
}

void ChunkServer::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    name_current_thread("fleet-chunks");
    loop();
  });
}

void ChunkServer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ChunkServer::Stats ChunkServer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void ChunkServer::wait_for_room(std::unique_lock<std::mutex>& lock) {
  // The MQTT client has no completion signal we can wait on cheaply; poll its queue depth.
  while (!stopping_ && bulk_.stats().queued_bytes > options_.max_queued_bytes) {
    wake_.wait_for(lock, std::chrono::milliseconds(2));
  }
}

void ChunkServer::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (queues_.empty()) {
      wake_.wait(lock);
      continue;
    }
    wait_for_room(lock);
    if (stopping_) break;
    // Next vehicle after the cursor, wrapping around.
    auto it = queues_.upper_bound(cursor_);
    if (it == queues_.end()) it = queues_.begin();
    const std::string vehicle_id = it->first;
    v1::FetchRequest request = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) queues_.erase(it);
    cursor_ = vehicle_id;
    lock.unlock();

    v1::Chunk chunk;
    try {
      const auto body = catalog_.manifest_body(request.model_id(), request.version());
      chunk = delivery::serve(catalog_.store(), body.value_or(v1::ManifestBody{}), request);
      bulk_.publish(topics_.chunk(vehicle_id), chunk.SerializeAsString(), 1);
    } catch (const std::exception& e) {
      log::error(kLog, "cannot serve chunk",
                 {{"vehicle", vehicle_id}, {"model", request.model_id()}, {"error", e.what()}});
      chunk.set_error("internal error");
    }

    lock.lock();
    ++stats_.chunks;
    stats_.bytes += chunk.data().size();
    if (!chunk.error().empty()) ++stats_.errors;
  }
}

}  // namespace fleetml::coordinator
