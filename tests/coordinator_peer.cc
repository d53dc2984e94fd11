#include "tests/coordinator_peer.h"

#include "shared/common/clock.h"
#include "shared/common/error.h"
#include "shared/crypto/envelope.h"
#include "tests/support/mqtt_probe.h"

namespace fleetml::test {

namespace fs = std::filesystem;
constexpr std::int64_t kDayMs = 24 * 3'600'000;

CoordinatorPeer::CoordinatorPeer(const std::string& broker_uri, const fs::path& dir)
    : dir_(dir),
      keys_(crypto::init_keys(dir / "keys")),
      trust_dir_(dir / "trust"),
      store_(dir / "store") {
  fs::create_directories(trust_dir_);
  for (const char* pub : {crypto::kReleasePubFile, crypto::kCoordinatorPubFile}) {
    fs::copy_file(dir / "keys" / pub, trust_dir_ / pub);
  }
  transport::ClientOptions options;
  options.broker_uri = broker_uri;
  options.client_id = unique_client_id("coordinator-peer");
  options.clean_start = true;
  client_ = std::make_unique<transport::MqttClient>(options);
  client_->subscribe(topics_.filter(messages::TopicKind::kFetch), 1,
                     [this](const transport::Message& m) {
                       if (auto t = topics_.parse(m.topic)) on_fetch(t->id, m.payload);
                     });
  client_->subscribe(topics_.filter(messages::TopicKind::kReport), 1,
                     [this](const transport::Message& m) {
                       const auto t = topics_.parse(m.topic);
                       v1::Report report;
                       if (!t || !report.ParseFromString(m.payload)) return;
                       std::lock_guard lock(mutex_);
                       reports_.emplace_back(t->id, std::move(report));
                       changed_.notify_all();
                     });
  client_->connect();
}

CoordinatorPeer::~CoordinatorPeer() { client_.reset(); }

v1::ManifestBody CoordinatorPeer::release(const std::string& model_id, std::uint64_t version,
                                          const fs::path& file, std::uint32_t block_size,
                                          const std::vector<std::int64_t>& input_shape) {
  v1::ManifestBody body;
  body.set_model_id(model_id);
  body.set_version(version);
  body.set_task("image-classification");
  body.set_accuracy(0.5);
  for (std::int64_t d : input_shape) body.add_input_shape(d);
  const std::int64_t now = SystemClock::instance().now_unix_ms();
  body.set_created_unix_ms(now);
  body.set_expires_unix_ms(now + kDayMs);
  delivery::describe_artifact(store_.put(file, block_size), body);
  std::lock_guard lock(mutex_);
  releases_[{model_id, version}] = body;
  return body;
}

void CoordinatorPeer::publish_manifest(const v1::ManifestBody& body,
                                       const crypto::PrivateKey* key) {
  const v1::Manifest manifest = crypto::sign_manifest(body, key ? *key : keys_.release);
  transport::Message m;
  m.topic = topics_.manifest(body.model_id());
  m.payload = manifest.SerializeAsString();
  m.qos = 1;
  m.retained = true;
  client_->publish_wait(std::move(m));
}

v1::AssignmentBody CoordinatorPeer::assignment(const std::string& vehicle_id, std::uint64_t seq,
                                               const std::string& application_id,
                                               const v1::ManifestBody& manifest) const {
  v1::AssignmentBody body;
  body.set_vehicle_id(vehicle_id);
  body.set_seq(seq);
  const std::int64_t now = SystemClock::instance().now_unix_ms();
  body.set_issued_unix_ms(now);
  body.set_expires_unix_ms(now + kDayMs);
  v1::AppAssignment* app = body.add_applications();
  app->set_application_id(application_id);
  app->set_model_id(manifest.model_id());
  app->set_model_version(manifest.version());
  app->set_sha256(manifest.sha256());
  app->set_size_bytes(manifest.size_bytes());
  app->set_accuracy(manifest.accuracy());
  return body;
}

v1::Assignment CoordinatorPeer::sign(const v1::AssignmentBody& body) const {
  return crypto::sign_assignment(body, keys_.coordinator);
}

void CoordinatorPeer::publish_assignment(const std::string& to, const v1::Assignment& assignment) {
  transport::Message m;
  m.topic = topics_.assignment(to);
  m.payload = assignment.SerializeAsString();
  m.qos = 1;
  m.retained = true;
  client_->publish_wait(std::move(m));
}

void CoordinatorPeer::set_tamper(std::function<void(v1::Chunk&)> tamper) {
  std::lock_guard lock(mutex_);
  tamper_ = std::move(tamper);
}

void CoordinatorPeer::set_serve_limit(std::optional<std::uint64_t> blocks) {
  std::lock_guard lock(mutex_);
  serve_limit_ = blocks;
}

std::vector<CoordinatorPeer::Served> CoordinatorPeer::served() const {
  std::lock_guard lock(mutex_);
  return served_;
}

void CoordinatorPeer::on_fetch(const std::string& vehicle_id, const std::string& payload) {
  v1::FetchRequest request;
  if (!request.ParseFromString(payload)) return;
  std::unique_lock lock(mutex_);
  if (serve_limit_) {
    if (*serve_limit_ == 0) return;
    --*serve_limit_;
  }
  const auto it = releases_.find({request.model_id(), request.version()});
  v1::Chunk chunk =
      delivery::serve(store_, it == releases_.end() ? v1::ManifestBody{} : it->second, request);
  served_.push_back({request.model_id(), request.version(), request.offset(), chunk.data().size()});
  if (tamper_) tamper_(chunk);
  lock.unlock();
  client_->publish(topics_.chunk(vehicle_id), chunk.SerializeAsString(), 1);
}

std::optional<v1::Report> CoordinatorPeer::wait_for_report(
    const std::string& vehicle_id, std::chrono::milliseconds timeout,
    const std::function<bool(const v1::Report&)>& match) {
  std::unique_lock lock(mutex_);
  std::optional<v1::Report> found;
  changed_.wait_for(lock, timeout, [&] {
    for (const auto& [vid, report] : reports_) {
      if (vid == vehicle_id && (!match || match(report))) {
        found = report;
        return true;
      }
    }
    return false;
  });
  return found;
}

std::vector<v1::Report> CoordinatorPeer::reports() const {
  std::lock_guard lock(mutex_);
  std::vector<v1::Report> out;
  for (const auto& [vid, report] : reports_) out.push_back(report);
  return out;
}

}  // namespace fleetml::test
