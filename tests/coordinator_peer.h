#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "schemas/fleet.pb.h"
#include "shared/crypto/key_dir.h"
#include "shared/delivery/content_store.h"
#include "shared/messages/topics.h"
#include "shared/transport/mqtt_client.h"

namespace fleetml::test {

// The coordinator's side of delivery, for vehicle tests, built only from shared libraries
// (the real coordinator is tested on its own): real keys (crypto::init_keys), a real content
// store, real signatures; it answers FetchRequests with delivery::serve and records every
// Report. Tests play the attacker through its hooks (tamper with chunks, sign with another
// key, hold requests back).
class CoordinatorPeer {
 public:
  // Makes keys under <dir>/keys, a trust directory <dir>/trust (the two .pub files) and a
  // content store, connects to `broker_uri` and subscribes to every vehicle's fetch and
  // report topics.
  CoordinatorPeer(const std::string& broker_uri, const std::filesystem::path& dir);
  ~CoordinatorPeer();

  const crypto::SigningKeys& keys() const { return keys_; }
  const std::filesystem::path& trust_dir() const { return trust_dir_; }
  const messages::Topics& topics() const { return topics_; }

  // Stores `file` and returns the manifest body a coordinator would sign for it (expiring in a
  // day). The peer serves chunks for (model_id, version) from then on.
  v1::ManifestBody release(const std::string& model_id, std::uint64_t version,
                           const std::filesystem::path& file, std::uint32_t block_size,
                           const std::vector<std::int64_t>& input_shape);
  // Signs `body` with `key` (default: the release key) and publishes it retained on
  // models/{id}/manifest, waiting for the broker's acknowledgement.
  void publish_manifest(const v1::ManifestBody& body, const crypto::PrivateKey* key = nullptr);

  // The assignment body that gives `application_id` the artifact of `manifest`.
  v1::AssignmentBody assignment(const std::string& vehicle_id, std::uint64_t seq,
                                const std::string& application_id,
                                const v1::ManifestBody& manifest) const;
  v1::Assignment sign(const v1::AssignmentBody& body) const;
  // Publishes it retained on vehicles/{vid}/assignment (vid: `to`), waiting for the broker.
  void publish_assignment(const std::string& to, const v1::Assignment& assignment);

  // Edits every chunk before it is sent (null: none).
  void set_tamper(std::function<void(v1::Chunk&)> tamper);
  // Serves at most `blocks` more chunks, dropping later requests unanswered (nullopt: no
  // limit). Lets a test stop a download in the middle.
  void set_serve_limit(std::optional<std::uint64_t> blocks);

  struct Served {
    std::string model_id;
    std::uint64_t version = 0;
    std::uint64_t offset = 0;
    std::uint64_t bytes = 0;
  };
  std::vector<Served> served() const;

  // The first report from `vehicle_id` (received already or within `timeout`) that satisfies
  // `match` (any when null).
  std::optional<v1::Report> wait_for_report(
      const std::string& vehicle_id, std::chrono::milliseconds timeout,
      const std::function<bool(const v1::Report&)>& match = nullptr);
  std::vector<v1::Report> reports() const;

 private:
  void on_fetch(const std::string& vehicle_id, const std::string& payload);

  std::filesystem::path dir_;
  crypto::SigningKeys keys_;
  std::filesystem::path trust_dir_;
  messages::Topics topics_;
  delivery::ContentStore store_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::pair<std::string, std::uint64_t>, v1::ManifestBody> releases_;
  std::function<void(v1::Chunk&)> tamper_;
  std::optional<std::uint64_t> serve_limit_;
  std::vector<Served> served_;
  std::vector<std::pair<std::string, v1::Report>> reports_;
  std::unique_ptr<transport::MqttClient> client_;  // last: stopped before the rest goes
};

}  // namespace fleetml::test
