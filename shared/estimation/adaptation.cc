#include "shared/estimation/adaptation.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"

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
  return ms;
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
          {"bound_log_margin", c.bound_log_margin},
          {"residuals", c.residuals},
          {"point_rms", c.point_rms}};
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
  c.bound_log_margin = number(j, "bound_log_margin");
  c.residuals = static_cast<int>(number(j, "residuals"));
  c.point_rms = number(j, "point_rms");
  if (c.samples < 0 || c.models < 0 || c.residuals < 0 || c.bound_log_margin < 0 ||
      c.point_rms < 0) {
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
  c.bound_log_margin = bound_log_margin({}, options.roofline);
  if (models.size() < 2) return c;  // nothing to hold out

  double point_ss = 0;
  std::vector<double> bound_residuals;
  for (const std::string& held_out : models) {
    std::vector<const Row*> training;
    for (const Row* r : all) {
      if (*r->model != held_out) training.push_back(r);
    }
    const Vec theta = fit_log_factors(training, options);
    for (const Row* r : all) {
      if (*r->model != held_out) continue;
      const double log_point = std::log(predict(r->terms, theta));
      bound_residuals.push_back(r->log_p95 - log_point);
      point_ss += (r->log_p50 - log_point) * (r->log_p50 - log_point);
      ++c.residuals;
    }
  }
  c.point_rms = std::sqrt(point_ss / c.residuals);
  c.bound_log_margin = bound_log_margin(std::move(bound_residuals), options.roofline);
  return c;
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
