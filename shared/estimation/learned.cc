#include "shared/estimation/learned.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>
#include <xgboost/c_api.h>

#include "shared/estimation/stats.h"

namespace fleetml::estimation {
namespace {

namespace op = model::op;

constexpr std::string_view kMagic = "fleetml-learned-v1";

void check(int rc, const char* what) {
  if (rc != 0) throw Error(std::string("learned: xgboost ") + what + ": " + XGBGetLastError());
}

float log10_or_missing(double v) {
  return v > 0 ? static_cast<float>(std::log10(v)) : std::numeric_limits<float>::quiet_NaN();
}

// Owns a DMatrix handle.
class Matrix {
 public:
  Matrix(const std::vector<float>& data, std::size_t rows, std::size_t cols) {
    check(XGDMatrixCreateFromMat(data.data(), rows, cols, std::numeric_limits<float>::quiet_NaN(),
                                 &handle_),
          "DMatrix");
  }
  ~Matrix() { XGDMatrixFree(handle_); }
  Matrix(const Matrix&) = delete;
  Matrix& operator=(const Matrix&) = delete;
  void set(const char* field, const std::vector<float>& values) {
    check(XGDMatrixSetFloatInfo(handle_, field, values.data(), values.size()), field);
  }
  DMatrixHandle get() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

struct Rows {
  std::vector<float> x;       // row-major, feature_names().size() columns
  std::vector<float> label;   // log p50
  std::vector<float> margin;  // log roofline point
  std::vector<double> log_p95;
  std::vector<std::string> model;
};

double roofline_log_ms(const model::ModelProfile& m, const v1::Capability& c, int batch,
                       const RooflineOptions& o) {
  return std::log(roofline_terms(m, c, batch, o).total_ms());
}

}  // namespace

struct LearnedModel::Booster {
  BoosterHandle handle = nullptr;
  RooflineOptions roofline;
  mutable std::mutex mutex;  // XGBoost's prediction cache is per booster

  ~Booster() {
    if (handle) XGBoosterFree(handle);
  }

  std::vector<float> predict(const std::vector<float>& x, const std::vector<float>& margin) const {
    Matrix m(x, margin.size(), feature_names().size());
    m.set("base_margin", margin);
    std::lock_guard lock(mutex);
    bst_ulong n = 0;
    const float* out = nullptr;
    check(XGBoosterPredict(handle, m.get(), 0, 0, 0, &n, &out), "predict");
    return {out, out + n};
  }
};

const std::vector<std::string>& feature_names() {
  static const std::vector<std::string> names = {"log_macs",
                                                 "log_params",
                                                 "log_depth",
                                                 "log_ops",
                                                 "log_weight_bytes",
                                                 "log_activation_bytes",
                                                 "log_peak_activation",
                                                 "share_macs_conv",
                                                 "share_macs_pointwise",
                                                 "share_macs_grouped",
                                                 "share_macs_depthwise",
                                                 "share_macs_linear",
                                                 "share_bytes_memory_ops",
                                                 "share_memory_ops",
                                                 "log_gemm_gflops",
                                                 "log_conv_gflops",
                                                 "log_pointwise_gflops",
                                                 "log_depthwise_gflops",
                                                 "log_linear_gflops",
                                                 "log_bandwidth_gbps",
                                                 "log_op_overhead_us",
                                                 "threads",
                                                 "optimized",
                                                 "cores",
                                                 "clock_ghz",
                                                 "log_nominal_gflops",
                                                 "has_gpu",
                                                 "log_batch",
                                                 "log_roofline_ms"};
  return names;
}

std::vector<float> features(const model::ModelProfile& m, const v1::Capability& capability,
                            int batch) {
  check_batch("learned", batch);
  double conv = 0, pointwise = 0, grouped = 0, depthwise = 0, linear = 0, activation_bytes = 0,
         memory_bytes = 0, total_bytes = 0, memory_ops = 0;
  for (const model::Layer& l : m.layers) {
    const auto macs = static_cast<double>(l.macs);
    const auto bytes = static_cast<double>(l.bytes_moved);
    total_bytes += bytes;
    activation_bytes += std::max(0.0, bytes - static_cast<double>(l.param_bytes));
    if (l.op == op::kDepthwiseConv ||
        (l.op == op::kConv && l.groups > 1 && l.groups == l.in_channels)) {
      depthwise += macs;
    } else if (l.op == op::kConv && l.groups > 1) {
      grouped += macs;
    } else if (l.op == op::kConv) {
      (l.kernel_h * l.kernel_w == 1 ? pointwise : conv) += macs;
    } else if (l.op == op::kLinear || l.op == op::kMatmul) {
      linear += macs;
    } else {
      memory_bytes += bytes;
      memory_ops += 1;
    }
  }
  const double macs = std::max<double>(static_cast<double>(m.macs), 1);
  const double ops = std::max<double>(static_cast<double>(m.layers.size()), 1);
  const v1::Device& d = capability.device();
  const v1::Calibration& c = capability.calibration();
  const RooflineOptions roofline;
  std::vector<float> f = {
      log10_or_missing(static_cast<double>(m.macs)),
      log10_or_missing(static_cast<double>(m.params)),
      log10_or_missing(static_cast<double>(m.depth)),
      static_cast<float>(std::log10(ops)),
      log10_or_missing(static_cast<double>(m.param_bytes)),
      log10_or_missing(activation_bytes),
      log10_or_missing(static_cast<double>(m.peak_activation_bytes)),
      static_cast<float>(conv / macs),
      static_cast<float>(pointwise / macs),
      static_cast<float>(grouped / macs),
      static_cast<float>(depthwise / macs),
      static_cast<float>(linear / macs),
      static_cast<float>(total_bytes > 0 ? memory_bytes / total_bytes : 0),
      static_cast<float>(memory_ops / ops),
      log10_or_missing(c.gemm_gflops()),
      log10_or_missing(c.conv_gflops()),
      log10_or_missing(c.pointwise_conv_gflops()),
      log10_or_missing(c.depthwise_conv_gflops()),
      log10_or_missing(c.linear_gflops()),
      log10_or_missing(c.memory_bandwidth_gbps()),
      log10_or_missing(c.op_overhead_us()),
      static_cast<float>(c.threads()),
      c.optimized() ? 1.0f : 0.0f,
      static_cast<float>(d.cores()),
      static_cast<float>(d.clock_ghz()),
      log10_or_missing(d.nominal_gflops()),
      d.gpus_size() > 0 ? 1.0f : 0.0f,
      static_cast<float>(std::log10(batch)),
      static_cast<float>(roofline_log_ms(m, capability, batch, roofline) / std::log(10.0))};
  return f;
}

namespace {

Rows rows_of(std::span<const Sample> samples, const RooflineOptions& roofline) {
  Rows rows;
  for (const Sample& s : samples) {
    if (!s.model) throw Error("learned: measurement of " + s.model_id + " has no profile");
    const std::vector<float> f = features(*s.model, s.capability, s.batch);
    rows.x.insert(rows.x.end(), f.begin(), f.end());
    rows.label.push_back(static_cast<float>(std::log(s.p50_ms)));
    rows.margin.push_back(
        static_cast<float>(roofline_log_ms(*s.model, s.capability, s.batch, roofline)));
    rows.log_p95.push_back(std::log(s.p95_ms));
    rows.model.push_back(s.model_id);
  }
  return rows;
}

Rows subset(const Rows& all, const std::vector<std::size_t>& index) {
  const std::size_t cols = feature_names().size();
  Rows r;
  for (std::size_t i : index) {
    r.x.insert(r.x.end(), all.x.begin() + static_cast<std::ptrdiff_t>(i * cols),
               all.x.begin() + static_cast<std::ptrdiff_t>((i + 1) * cols));
    r.label.push_back(all.label[i]);
    r.margin.push_back(all.margin[i]);
    r.log_p95.push_back(all.log_p95[i]);
    r.model.push_back(all.model[i]);
  }
  return r;
}

BoosterHandle new_booster(const std::vector<DMatrixHandle>& cache) {
  BoosterHandle h = nullptr;
  check(XGBoosterCreate(cache.data(), cache.size(), &h), "create");
  for (const auto& [key, value] :
       std::map<std::string, std::string>{{"objective", "reg:squarederror"},
                                          {"nthread", "1"},
                                          {"seed", "0"},
                                          {"verbosity", "0"},
                                          {"tree_method", "exact"},
                                          {"base_score", "0"}}) {
    check(XGBoosterSetParam(h, key.c_str(), value.c_str()), "parameter");
  }
  return h;
}

std::unique_ptr<LearnedModel::Booster> train_booster(const Rows& rows, const LearnedOptions& o) {
  Matrix train(rows.x, rows.label.size(), feature_names().size());
  train.set("label", rows.label);
  train.set("base_margin", rows.margin);
  auto booster = std::make_unique<LearnedModel::Booster>();
  booster->roofline = o.roofline;
  booster->handle = new_booster({train.get()});
  const std::map<std::string, std::string> params = {
      {"max_depth", std::to_string(o.max_depth)},
      {"eta", std::to_string(o.eta)},
      {"min_child_weight", std::to_string(o.min_child_weight)},
      {"lambda", std::to_string(o.lambda)}};
  for (const auto& [key, value] : params) {
    check(XGBoosterSetParam(booster->handle, key.c_str(), value.c_str()), "parameter");
  }
  for (int i = 0; i < o.rounds; ++i) {
    check(XGBoosterUpdateOneIter(booster->handle, i, train.get()), "training");
  }
  return booster;
}
}  // namespace

LearnedModel::LearnedModel(std::unique_ptr<Booster> booster, double margin, int samples, int models)
    : booster_(std::move(booster)), margin_(margin), samples_(samples), models_(models) {}

LearnedModel::~LearnedModel() = default;

std::shared_ptr<const LearnedModel> LearnedModel::train(std::span<const Sample> samples,
                                                        const LearnedOptions& options) {
  if (samples.empty()) throw Error("learned: no measurements to train on");
  const Rows rows = rows_of(samples, options.roofline);
  std::vector<std::string> models(rows.model);
  std::sort(models.begin(), models.end());
  models.erase(std::unique(models.begin(), models.end()), models.end());

  // Out-of-fold residuals for the bound: models split round-robin into folds.
  std::vector<double> residuals;
  const int folds = std::min<int>(options.folds, static_cast<int>(models.size()));
  for (int fold = 0; folds >= 2 && fold < folds; ++fold) {
    std::vector<std::size_t> in, out;
    for (std::size_t i = 0; i < rows.model.size(); ++i) {
      const auto rank =
          std::lower_bound(models.begin(), models.end(), rows.model[i]) - models.begin();
      (rank % folds == fold ? out : in).push_back(i);
    }
    const Rows test = subset(rows, out);
    const std::vector<float> predicted =
        train_booster(subset(rows, in), options)->predict(test.x, test.margin);
    for (std::size_t i = 0; i < predicted.size(); ++i) {
      residuals.push_back(test.log_p95[i] - predicted[i]);
    }
  }
  RooflineOptions bound = options.roofline;
  bound.quantile = options.quantile;
  const double margin = estimation::bound_log_margin(std::move(residuals), bound);
  return std::shared_ptr<const LearnedModel>(new LearnedModel(train_booster(rows, options), margin,
                                                              static_cast<int>(rows.label.size()),
                                                              static_cast<int>(models.size())));
}

std::string LearnedModel::to_bytes() const {
  std::lock_guard lock(booster_->mutex);
  bst_ulong n = 0;
  const char* buffer = nullptr;
  check(XGBoosterSaveModelToBuffer(booster_->handle, R"({"format": "json"})", &n, &buffer), "save");
  const RooflineOptions& r = booster_->roofline;
  const nlohmann::json header = {{"features", feature_names()},
                                 {"bound_log_margin", margin_},
                                 {"samples", samples_},
                                 {"models", models_},
                                 {"call_overhead_ops", r.call_overhead_ops},
                                 {"layer_overhead_ops", r.layer_overhead_ops},
                                 {"parallel_half_outputs", r.parallel_half_outputs},
                                 {"prior_sigma", r.prior_sigma},
                                 {"prior_weight", r.prior_weight},
                                 {"quantile", r.quantile}};
  return std::string(kMagic) + "\n" + header.dump() + "\n" + std::string(buffer, n);
}

std::shared_ptr<const LearnedModel> LearnedModel::from_bytes(std::string_view bytes) {
  const std::size_t first = bytes.find('\n');
  const std::size_t second = first == std::string_view::npos ? first : bytes.find('\n', first + 1);
  if (second == std::string_view::npos || bytes.substr(0, first) != kMagic) {
    throw Error("learned: not a serialized fleetml learned model");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(first + 1, second - first - 1));
    if (header.at("features").get<std::vector<std::string>>() != feature_names()) {
      throw Error("learned: the model was trained on other features");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("learned: malformed header: ") + e.what());
  }
  auto booster = std::make_unique<Booster>();
  try {
    booster->roofline.call_overhead_ops = header.at("call_overhead_ops").get<double>();
    booster->roofline.layer_overhead_ops = header.at("layer_overhead_ops").get<double>();
    booster->roofline.parallel_half_outputs = header.at("parallel_half_outputs").get<double>();
    booster->roofline.prior_sigma = header.at("prior_sigma").get<double>();
    booster->roofline.prior_weight = header.at("prior_weight").get<double>();
    booster->roofline.quantile = header.at("quantile").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("learned: malformed header: ") + e.what());
  }
  booster->handle = new_booster({});
  const std::string_view model = bytes.substr(second + 1);
  check(XGBoosterLoadModelFromBuffer(booster->handle, model.data(), model.size()), "load");
  return std::shared_ptr<const LearnedModel>(
      new LearnedModel(std::move(booster), header.value("bound_log_margin", 0.0),
                       header.value("samples", 0), header.value("models", 0)));
}

double LearnedModel::predict_ms(const model::ModelProfile& model, const v1::Capability& capability,
                                int batch) const {
  const std::vector<float> x = features(model, capability, batch);
  const std::vector<float> margin = {
      static_cast<float>(roofline_log_ms(model, capability, batch, booster_->roofline))};
  return std::exp(static_cast<double>(booster_->predict(x, margin).at(0)));
}

LearnedEstimator::LearnedEstimator(std::shared_ptr<const LearnedModel> model)
    : model_(std::move(model)) {
  if (!model_) throw Error("learned: no trained model");
}

Estimate LearnedEstimator::estimate(const Query& query) const {
  const double point = model_->predict_ms(query.model, query.capability, query.batch);
  char basis[200];
  std::snprintf(basis, sizeof basis,
                "XGBoost on %d measurements of %d models (roofline as base margin), bound from "
                "out-of-fold residuals",
                model_->samples(), model_->models());
  return {point, point * std::exp(model_->bound_log_margin()), name(), basis};
}

}  // namespace fleetml::estimation
