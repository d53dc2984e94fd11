#include "vehicle_client/agent/agent_config.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/messages/json.h"
#include "shared/messages/topics.h"
#include "shared/messages/validate.h"
#include "shared/model/model_profile.h"

namespace fleetml::vehicle {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

double number(std::string_view spec, std::string_view field, std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw Error("--app " + std::string(spec) + ": " + std::string(field) + " '" +
                std::string(text) + "' is not a number");
  }
  return value;
}

}  // namespace

v1::Application parse_app_spec(std::string_view spec) {
  const std::vector<std::string_view> f = split(spec, ':');
  if (f.size() < 4 || f.size() > 8) {
    throw Error("--app " + std::string(spec) +
                ": expected ID:DEADLINE_MS:RATE_HZ:BATCH[:MIN_ACCURACY[:DOWNLOAD_BUDGET_S[:TASK"
                "[:INPUT_SHAPE]]]]");
  }
  v1::Application app;
  app.set_id(std::string(f[0]));
  app.set_deadline_ms(number(spec, "deadline", f[1]));
  app.set_rate_hz(number(spec, "rate", f[2]));
  const double batch = number(spec, "batch", f[3]);
  if (batch < 1 || batch > messages::limits::kMaxBatch || batch != static_cast<int>(batch)) {
    throw Error("--app " + std::string(spec) + ": batch must be an integer in 1..1024");
  }
  app.set_batch(static_cast<std::uint32_t>(batch));
  if (f.size() > 4) app.set_min_accuracy(number(spec, "min accuracy", f[4]));
  if (f.size() > 5) app.set_download_budget_s(number(spec, "download budget", f[5]));
  app.set_task(f.size() > 6 ? std::string(f[6]) : "image-classification");
  const model::Shape input = model::parse_shape(f.size() > 7 ? f[7] : "1x3x224x224");
  for (std::int64_t d : input) app.add_input_shape(d);
  return app;
}

void load_config_file(const std::filesystem::path& path, AgentConfig& config) {
  const std::string where = "config " + path.string();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(file::read(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": " + e.what());
  }
  if (!doc.is_object()) throw Error(where + ": expected a JSON object");
  try {
    if (doc.contains("applications")) {
      config.applications.clear();
      for (const nlohmann::json& a : doc.at("applications")) {
        v1::Application app;
        messages::from_json(a.dump(), app);
        config.applications.push_back(std::move(app));
      }
    }
    if (doc.contains("network_type")) config.network_type = doc.at("network_type");
    if (doc.contains("nominal_downlink_kbps")) {
      config.nominal_downlink_kbps = doc.at("nominal_downlink_kbps");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": " + e.what());
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
}

void check_config(const AgentConfig& config) {
  if (!messages::is_valid_vehicle_id(config.vehicle_id)) {
    throw Error("vehicle id '" + config.vehicle_id + "' is not [A-Za-z0-9_-]{1,64}");
  }
  if (config.data_dir.empty()) throw Error("no data directory");
  if (config.applications.empty()) throw Error("no application (--app or --config)");
  if (config.keep_versions < 1) throw Error("keep_versions must be at least 1");
  if (config.download.window_blocks < 1 ||
      config.download.window_blocks > delivery::kMaxWindowBlocks) {
    throw Error("the download window must be 1 to " + std::to_string(delivery::kMaxWindowBlocks) +
                " blocks");
  }
  // The coordinator validates every capability with these rules; checking here turns a
  // capability it would drop into an error at start.
  v1::Capability probe;
  probe.set_vehicle_id(config.vehicle_id);
  probe.mutable_device()->set_cores(1);
  probe.mutable_device()->set_clock_ghz(1);
  probe.mutable_device()->set_ram_gb(1);
  probe.mutable_device()->set_threads(1);
  for (const v1::Application& app : config.applications) *probe.add_applications() = app;
  if (auto error = messages::validate(probe, config.vehicle_id)) {
    throw Error("applications: " + *error);
  }
}

}  // namespace fleetml::vehicle
