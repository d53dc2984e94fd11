#include "vehicle_client/agent/platform.h"

#include "shared/delivery/sinks.h"

namespace fleetml::vehicle {
namespace {

// delivery::FileSink is final; the agent also needs artifact_path() and discard() through
// the Platform, so this forwards to it.
class FileArtifactSink final : public ArtifactSink {
 public:
  explicit FileArtifactSink(const std::filesystem::path& dir) : sink_(dir) {}

  std::uint64_t open(const v1::ManifestBody& manifest) override { return sink_.open(manifest); }
  void append(std::string_view data) override { sink_.append(data); }
  void commit() override { sink_.commit(); }
  crypto::FileDigest digest() override { return sink_.digest(); }
  void complete() override { sink_.complete(); }
  std::filesystem::path artifact_path() const override { return sink_.artifact_path(); }
  void discard() override { sink_.discard(); }

 private:
  delivery::FileSink sink_;
};

}  // namespace

std::unique_ptr<ArtifactSink> file_artifact_sink(const std::filesystem::path& dir) {
  return std::make_unique<FileArtifactSink>(dir);
}

}  // namespace fleetml::vehicle
