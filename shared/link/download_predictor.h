#pragma once

#include <span>
#include <string>

#include "schemas/fleet.pb.h"

namespace fleetml::link {

// Download-time prediction from the downlink samples a vehicle reported (v1::LinkSample, most
// often one per second). Pure functions; the coordinator's planner calls them with the
// vehicle's recent samples and its Link.nominal_downlink_kbps. Design and evaluation:
// docs/simulation.md ("Download-time prediction").

// Parameters of the conservative predictor. All are chosen a priori, not fitted on the traces
// it is evaluated on (docs/simulation.md gives the reasoning for each value).
struct PredictorOptions {
  // Low quantile of the bytes a window of the download's own length delivered in the history;
  // 0.1 makes the prediction the history's 90th percentile of the download time.
  double quantile = 0.1;
  // Only the most recent samples covering this many seconds are used.
  double max_history_s = 600;
  // Windows are at most this share of the history, so even the longest one has many
  // distinct starting points; longer downloads are extrapolated at that window's low rate.
  double max_window_fraction = 0.5;
  // Without samples the prediction uses nominal_kbps x this factor. 0.5 is DIGA's published
  // 4G-static 10th percentile over its mean (21.3 / 42.6 Mbit/s).
  double nominal_derate = 0.5;
};

// How a prediction was made.
enum class Basis {
  kSamples,  // from the reported samples
  kNominal,  // no usable sample: from the nominal rate
  kNone,     // neither samples nor a nominal rate: seconds is +infinity
};

struct DownloadPrediction {
  // Predicted seconds to download the bytes; +infinity when the history says the link may
  // deliver nothing for the whole download (or when nothing is known about the link).
  double seconds = 0;
  Basis basis = Basis::kNone;
  double history_s = 0;  // seconds of samples used
};

std::string to_string(Basis basis);  // "samples", "nominal", "none"

// The conservative prediction: the smallest duration w such that at least (1 - quantile) of
// the windows of length w in the history (one starting at each sample, the history looped so
// every start has a full window) delivered `bytes` or more. This is the history's
// (1 - quantile) percentile of the download time had the download started at each past
// sample, which is the same as dividing by a low percentile of the mean throughput over
// windows as long as the download itself, solved as a fixed point. For downloads longer than
// max_window_fraction of the history the low percentile of the longest window's rate is kept.
// Samples with a zero duration, a negative or non-finite rate are ignored. Throws
// fleetml::Error for negative or non-finite `bytes`.
DownloadPrediction predict_download(std::span<const v1::LinkSample> samples, double bytes,
                                    double nominal_kbps, const PredictorOptions& options = {});

// DIGA's rule, the named baseline: bytes over the mean throughput of the last max_history_s
// seconds of samples (of nominal_kbps when there are none). Not conservative: it
// underestimates whenever the download meets a below-average stretch.
DownloadPrediction predict_download_mean(std::span<const v1::LinkSample> samples, double bytes,
                                         double nominal_kbps, double max_history_s = 600);

}  // namespace fleetml::link
