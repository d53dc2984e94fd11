#pragma once

#include <string>
#include <string_view>

#include "shared/estimation/estimator.h"

namespace fleetml::estimation {

// The optional `llm` estimator (library fleetml_estimation_llm, libcurl): DIGA's prompt sent
// to an Ollama-compatible endpoint, its "inference time = mean +/- deviation" answer parsed.
// Off unless a URL is configured.

struct LlmConfig {
  // Server base URL, e.g. "http://127.0.0.1:11434"; "/api/generate" is appended unless the
  // URL already ends with it.
  std::string url;
  std::string model = "mistral";  // DIGA's least-underestimating LLM
  double timeout_s = 120;         // whole request; local LLMs on CPUs are slow
};

// DIGA's exact prompt for model `model_name` on `device`: RAM GB, CPU GHz and cores from the
// Device (numbers with up to 3 significant digits, e.g. "8", "1.43"), plus the GPU sentence
// for its first GPU when it has one.
std::string diga_prompt(std::string_view model_name, const v1::Device& device);

struct LlmAnswer {
  double mean_ms = 0;
  double deviation_ms = 0;  // 0 when the answer gave none
};

// Reads "inference time = mean +/- deviation" out of an LLM's prose: the first time quantity
// after an "inference time" that has one (else the first anywhere). Accepts ms/s/us/µs/ns/
// min/h units (words too), "about"/"~"/"≈", ranges "30-40 ms" / "30 to 40 ms" (mean 35,
// deviation 5), "±", "+/-", "+-", deviations in percent, markdown emphasis, decimal commas
// ("1,5 s"; "1,200 ms" is twelve hundred), parentheses, units given once at the end. Numbers
// with other units (GHz, GB, cores) are skipped. Throws Unavailable with the reason when
// there is no such quantity, no time unit, a non-positive mean, a reversed range, or a mean
// over one hour.
LlmAnswer parse_llm_answer(std::string_view answer);

// POSTs {"model", "prompt", "stream": false} as JSON to the endpoint and returns the
// answer's "response" text. Throws Unavailable naming the URL on a transport error, timeout,
// non-200 status or a body without a "response" string.
std::string ollama_generate(const LlmConfig& config, std::string_view prompt);

// point = mean, bound = mean + deviation, times the batch (the prompt asks for one inference;
// no batching gain is assumed). Throws Unavailable when the server or its answer fails.
class LlmEstimator : public Estimator {
 public:
  explicit LlmEstimator(LlmConfig config);
  std::string name() const override { return "llm"; }
  Estimate estimate(const Query& query) const override;

 private:
  LlmConfig config_;
};

}  // namespace fleetml::estimation
