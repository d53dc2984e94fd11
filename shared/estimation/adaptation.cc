#include "shared/estimation/adaptation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/estimation/stats.h"

namespace fleetml::estimation {
namespace {

constexpr std::size_t N = kTermCount;
using Vec = std::array<double, N>;
using Mat = std::array<Vec, N>;

struct Row {
  Vec terms;
  double log_p50 = 0;
  double log_p95 = 0;
  const std::string* model = nullptr;
};

double predict(const Vec& terms, const Vec& theta) {
  double y = 0;
  for (std::size_t k = 0; k < N; ++k) y += std::exp(theta[k]) * terms[k];
  return y;
}

double objective(std::span<const Row* const> rows, const Vec& theta, const AdaptationOptions& o) {
  double j = 0;
  for (const Row* r : rows) {
    const double e = (std::log(predict(r->terms, theta)) - r->log_p50) / o.noise_sigma;
    j += e * e;
  }
  for (std::size_t k = 0; k < N; ++k)
    j += theta[k] * theta[k] / (o.prior_sigma[k] * o.prior_sigma[k]);
  return j;
}

// Solves a x = b for symmetric positive definite a (Cholesky).
Vec solve_spd(Mat a, Vec b) {
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t j = 0; j <= i; ++j) {
      double s = a[i][j];
      for (std::size_t p = 0; p < j; ++p) s -= a[i][p] * a[j][p];
      a[i][j] = i == j ? std::sqrt(std::max(s, 1e-300)) : s / a[j][j];
    }
  }
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t p = 0; p < i; ++p) b[i] -= a[i][p] * b[p];
    b[i] /= a[i][i];
  }
  for (std::size_t i = N; i-- > 0;) {
    for (std::size_t p = i + 1; p < N; ++p) b[i] -= a[p][i] * b[p];
    b[i] /= a[i][i];
  }
  return b;
}

// MAP log factors by Levenberg-Marquardt; the priors keep the normal matrix positive definite
// (Terms no row exercises have a zero gradient and stay at 0).
Vec fit_log_factors(std::span<const Row* const> rows, const AdaptationOptions& o) {
  Vec theta{};
  double cost = objective(rows, theta, o);
  double damping = 1e-3;
  const double w = 1 / (o.noise_sigma * o.noise_sigma);
  for (int iteration = 0; iteration < 200; ++iteration) {
    Mat a{};
    Vec g{};
    for (const Row* r : rows) {
      const double y = predict(r->terms, theta);
      const double residual = std::log(y) - r->log_p50;
      Vec jac;
      for (std::size_t k = 0; k < N; ++k) jac[k] = std::exp(theta[k]) * r->terms[k] / y;
      for (std::size_t i = 0; i < N; ++i) {
        g[i] += w * jac[i] * residual;
        for (std::size_t j = 0; j < N; ++j) a[i][j] += w * jac[i] * jac[j];
      }
    }
    for (std::size_t k = 0; k < N; ++k) {
      const double p = 1 / (o.prior_sigma[k] * o.prior_sigma[k]);
      a[k][k] += p;
      g[k] += p * theta[k];
    }
    bool improved = false;
    double step = 0;
    for (int attempt = 0; attempt < 30 && !improved; ++attempt) {
      Mat damped = a;
      Vec minus_g;
      for (std::size_t k = 0; k < N; ++k) {
        damped[k][k] *= 1 + damping;
        minus_g[k] = -g[k];
      }
      const Vec delta = solve_spd(damped, minus_g);
      Vec next;
      for (std::size_t k = 0; k < N; ++k) next[k] = std::clamp(theta[k] + delta[k], -8.0, 8.0);
      const double next_cost = objective(rows, next, o);
      if (next_cost < cost) {
        step = 0;
        for (std::size_t k = 0; k < N; ++k) step = std::max(step, std::abs(next[k] - theta[k]));
        theta = next;
        cost = next_cost;
        damping = std::max(damping / 3, 1e-9);
        improved = true;
      } else {
        damping *= 4;
      }
    }
    if (!improved || step < 1e-9) break;
  }
  return theta;
}

DeviceCorrections corrections_of(const Vec& theta) {
  DeviceCorrections c;
  for (std::size_t k = 0; k < N; ++k) c.factors[k] = std::exp(theta[k]);
  return c;
}

}  // namespace

double corrected_ms(const RooflineTerms& terms, const DeviceCorrections& corrections) {
  double ms = 0;
  for (std::size_t k = 0; k < N; ++k) ms += corrections.factors[k] * terms.ms[k];
  return ms * std::exp(corrections.point_log_shift);
}

nlohmann::json to_json(const DeviceCorrections& c) {
  nlohmann::json factors = nlohmann::json::object();
  for (std::size_t k = 0; k < N; ++k) {
    factors[std::string(term_name(static_cast<Term>(k)))] = c.factors[k];
  }
  return {{"device_key", c.device_key},
          {"factors", factors},
          {"samples", c.samples},
          {"models", c.models},
          {"bound_log_margin", c.bound.log_margin},
          {"bound_jitter_ms", c.bound.jitter_ms},
          {"bound_exposure_ms", c.bound.exposure_ms},
          {"residuals", c.residuals},
          {"point_rms", c.point_rms},
          {"point_log_shift", c.point_log_shift}};
}

DeviceCorrections corrections_from_json(const nlohmann::json& j) {
  auto need = [&](const nlohmann::json& obj, const std::string& key) -> const nlohmann::json& {
    if (!obj.is_object() || !obj.contains(key)) throw Error("device corrections: missing " + key);
    return obj.at(key);
  };
  auto number = [&](const nlohmann::json& obj, const std::string& key) {
    const nlohmann::json& v = need(obj, key);
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      throw Error("device corrections: " + key + " is not a number");
    }
    return v.get<double>();
  };
  DeviceCorrections c;
  const nlohmann::json& key = need(j, "device_key");
  if (!key.is_string()) throw Error("device corrections: device_key is not a string");
  c.device_key = key.get<std::string>();
  const nlohmann::json& factors = need(j, "factors");
  for (std::size_t k = 0; k < N; ++k) {
    const std::string name(term_name(static_cast<Term>(k)));
    // A term added after these corrections were saved stays uncorrected until the next fit.
    if (!factors.is_object() || !factors.contains(name)) continue;
    c.factors[k] = number(factors, name);
    if (!(c.factors[k] > 0)) throw Error("device corrections: factor " + name + " must be > 0");
  }
  c.samples = static_cast<int>(number(j, "samples"));
  c.models = static_cast<int>(number(j, "models"));
  c.bound.log_margin = number(j, "bound_log_margin");
  // Corrections saved before the jitter existed keep their multiplicative bound.
  c.bound.jitter_ms = j.contains("bound_jitter_ms") ? number(j, "bound_jitter_ms") : 0.0;
  c.bound.exposure_ms = j.contains("bound_exposure_ms") ? number(j, "bound_exposure_ms") : 0.0;
  c.residuals = static_cast<int>(number(j, "residuals"));
  c.point_rms = number(j, "point_rms");
  // Corrections saved before the shift existed keep a median-unbiased point.
  c.point_log_shift = j.contains("point_log_shift") ? number(j, "point_log_shift") : 0.0;
  if (c.samples < 0 || c.models < 0 || c.residuals < 0 || c.bound.log_margin < 0 ||
      c.bound.jitter_ms < 0 || c.bound.exposure_ms < 0 || c.point_rms < 0) {
    throw Error("device corrections: negative count or residual");
  }
  return c;
}

DeviceCorrections fit_corrections(std::span<const Sample> samples,
                                  const AdaptationOptions& options) {
  if (samples.empty()) throw Error("adaptation: no measurements to fit");
  const std::string key = device_key(samples.front().capability);
  std::vector<Row> rows;
  std::set<std::string> models;
  for (const Sample& s : samples) {
    if (device_key(s.capability) != key) {
      throw Error("adaptation: measurements of two device kinds (" + key + ", " +
                  device_key(s.capability) + ")");
    }
    if (!s.model) throw Error("adaptation: measurement of " + s.model_id + " has no profile");
    const RooflineTerms t = roofline_terms(*s.model, s.capability, s.batch, options.roofline);
    rows.push_back({t.ms, std::log(s.p50_ms), std::log(s.p95_ms), &s.model_id});
    models.insert(s.model_id);
  }
  std::vector<const Row*> all;
  for (const Row& r : rows) all.push_back(&r);

  DeviceCorrections c = corrections_of(fit_log_factors(all, options));
  c.device_key = key;
  c.samples = static_cast<int>(rows.size());
  c.models = static_cast<int>(models.size());
  c.bound.log_margin = bound_log_margin({}, options.roofline);
  if (models.size() < 2) return c;  // nothing to hold out

  std::vector<HeldOutPrediction> predictions;
  std::vector<double> point_errors;  // log(p50 / point)
  for (const std::string& held_out : models) {
    std::vector<const Row*> training;
    for (const Row* r : all) {
      if (*r->model != held_out) training.push_back(r);
    }
    const Vec theta = fit_log_factors(training, options);
    for (const Row* r : all) {
      if (*r->model != held_out) continue;
      const double point = predict(r->terms, theta);
      predictions.push_back({*r->model, point, std::exp(r->log_p95)});
      point_errors.push_back(r->log_p50 - std::log(point));
    }
  }
  c.residuals = static_cast<int>(predictions.size());
  c.point_log_shift = quantile(point_errors, options.point_quantile);
  double point_ss = 0;
  for (double e : point_errors) point_ss += (e - c.point_log_shift) * (e - c.point_log_shift);
  c.point_rms = std::sqrt(point_ss / c.residuals);
  for (HeldOutPrediction& p : predictions) p.point_ms *= std::exp(c.point_log_shift);
  c.bound = fit_bound(predictions, options.roofline);
  return c;
}

double BoundShape::exposed_jitter_ms(double point_ms) const {
  return jitter_ms * (exposure_ms > 0 ? std::min(1.0, point_ms / exposure_ms) : 1.0);
}

double BoundShape::bound_ms(double point_ms) const {
  return point_ms * std::exp(log_margin) + exposed_jitter_ms(point_ms);
}

namespace {

// log((p95 - the jitter `shape` exposes the point to) / point), the margin `shape` needs, or 0
// when the point and the exposed jitter cover the p95 (a negative margin is never used, and
// in bound_log_margin's Gaussian fallback it would widen the bound for being covered).
double bound_residual(const BoundShape& shape, const HeldOutPrediction& p) {
  const double rest = p.p95_ms - shape.exposed_jitter_ms(p.point_ms);
  return std::log(std::max(rest, p.point_ms) / p.point_ms);
}

// Sum over `rows` of log(bound / p95).
double looseness(const std::vector<const HeldOutPrediction*>& rows, const BoundShape& shape) {
  double sum = 0;
  for (const HeldOutPrediction* p : rows) sum += std::log(shape.bound_ms(p->point_ms) / p->p95_ms);
  return sum;
}

// 0 and at most kBoundCandidates of `values` spread over their range (sorted, the smallest
// and the largest among them): a device kind measured by a whole fleet has thousands of
// predictions, and the search below is quadratic in the candidates.
constexpr std::size_t kBoundCandidates = 16;
std::vector<double> candidates(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::vector<double> out = {0.0};
  if (values.size() <= kBoundCandidates) {
    out.insert(out.end(), values.begin(), values.end());
    return out;
  }
  for (std::size_t i = 0; i < kBoundCandidates; ++i) {
    out.push_back(values[i * (values.size() - 1) / (kBoundCandidates - 1)]);
  }
  return out;
}

// The tightest shape over `rows` with its in-sample conformal margin (fit_bound).
BoundShape tightest_shape(const std::vector<const HeldOutPrediction*>& rows,
                          const RooflineOptions& options) {
  std::vector<double> tails, points;
  for (const HeldOutPrediction* p : rows) {
    if (p->p95_ms > p->point_ms) tails.push_back(p->p95_ms - p->point_ms);
    points.push_back(p->point_ms);
  }
  const std::vector<double> jitters = candidates(std::move(tails));
  const std::vector<double> exposures = candidates(std::move(points));
  BoundShape best;
  double best_looseness = std::numeric_limits<double>::infinity();
  std::vector<double> residuals(rows.size());
  for (double jitter : jitters) {
    for (double exposure : exposures) {
      BoundShape shape{0, jitter, exposure};
      for (std::size_t i = 0; i < rows.size(); ++i) residuals[i] = bound_residual(shape, *rows[i]);
      shape.log_margin = bound_log_margin(residuals, options);
      const double loose = looseness(rows, shape);
      // A jitter must earn its place: with a large exposure it can mimic the margin, and a
      // rounding-level gain would trade the plain shape for an odd one.
      if (loose < best_looseness - 1e-9 * static_cast<double>(rows.size())) {
        best_looseness = loose;
        best = shape;
      }
      if (jitter == 0) break;  // without jitter the exposure changes nothing
    }
  }
  return best;
}

}  // namespace

BoundShape fit_bound(std::span<const HeldOutPrediction> held_out, const RooflineOptions& options) {
  std::vector<const HeldOutPrediction*> all;
  std::set<std::string> models;
  for (const HeldOutPrediction& p : held_out) {
    all.push_back(&p);
    models.insert(p.model_id);
  }
  std::vector<double> plain_residuals;
  for (const HeldOutPrediction* p : all) plain_residuals.push_back(bound_residual({}, *p));
  const BoundShape plain{bound_log_margin(std::move(plain_residuals), options), 0, 0};

  BoundShape tail = tightest_shape(all, options);
  if (tail.jitter_ms == 0) return plain;
  std::vector<double> residuals;
  for (const std::string& model : models) {
    std::vector<const HeldOutPrediction*> others;
    for (const HeldOutPrediction* p : all) {
      if (p->model_id != model) others.push_back(p);
    }
    const BoundShape without = tightest_shape(others, options);
    for (const HeldOutPrediction* p : all) {
      if (p->model_id == model) residuals.push_back(bound_residual(without, *p));
    }
  }
  tail.log_margin = bound_log_margin(std::move(residuals), options);
  return looseness(all, tail) < looseness(all, plain) ? tail : plain;
}

void CorrectionTable::put(DeviceCorrections corrections) {
  std::string key = corrections.device_key;
  table_.insert_or_assign(std::move(key), std::move(corrections));
}

const DeviceCorrections* CorrectionTable::find(std::string_view device_key) const {
  const auto it = table_.find(device_key);
  return it == table_.end() ? nullptr : &it->second;
}

CorrectionTable CorrectionTable::fit(std::span<const Sample> samples,
                                     const AdaptationOptions& options) {
  std::map<std::string, std::vector<Sample>> by_device;
  for (const Sample& s : samples) by_device[device_key(s.capability)].push_back(s);
  CorrectionTable table;
  for (const auto& [key, device_samples] : by_device) {
    table.put(fit_corrections(device_samples, options));
  }
  return table;
}

}  // namespace fleetml::estimation
