#include "shared/estimation/llm.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

namespace fleetml::estimation {
namespace {

// ---------------------------------------------------------------------------------------------
// Answer parsing

constexpr char kPlusMinus = '\x01';  // what "±", "+/-", "+-" and "plus or minus" become
constexpr double kMaxMs = 3.6e6;     // an hour: anything slower is not an inference time

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos)) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

// Lower-cased ASCII with markdown emphasis, approximation signs and exotic spaces removed,
// every plus-minus spelling turned into kPlusMinus, dashes into '-', µ into 'u', and decimal
// commas into points ("1,5" -> "1.5") while thousands separators ("1,200") are dropped.
std::string normalize(std::string_view in) {
  static const std::vector<std::pair<std::string_view, std::string_view>> kUtf8 = {
      {"\u00b1", " \x01 "}, {"\u00b5", "u"}, {"\u03bc", "u"}, {"\u2013", "-"},
      {"\u2014", "-"},      {"\u2212", "-"}, {"\u2248", " "}, {"\u223c", " "},
      {"\u00a0", " "},      {"\u2009", " "}, {"\u202f", " "}, {"\u2264", " "}};
  std::string s;
  for (std::size_t i = 0; i < in.size();) {
    bool replaced = false;
    for (const auto& [from, to] : kUtf8) {
      if (in.substr(i).starts_with(from)) {
        s += to;
        i += from.size();
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    const char c = in[i++];
    s += (c == '*' || c == '_' || c == '`' || c == '~' || c == '#')
             ? ' '
             : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (std::string_view pm : {"plus or minus", "plus/minus", "+ / -", "+/-", "+-"}) {
    replace_all(s, pm, " \x01 ");
  }
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] != ',' || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
        !std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      continue;
    }
    std::size_t after = i + 1;
    while (after < s.size() && std::isdigit(static_cast<unsigned char>(s[after]))) ++after;
    std::size_t before = i;
    while (before > 0 && std::isdigit(static_cast<unsigned char>(s[before - 1]))) --before;
    const bool thousands = after - i - 1 == 3 && s.substr(before, i - before) != "0";
    if (thousands) {
      s.erase(i, 1);
    } else {
      s[i] = '.';
    }
  }
  return s;
}

struct Token {
  enum Kind { kNumber, kWord, kSymbol } kind;
  std::string text;
  double value = 0;
};

std::vector<Token> tokenize(const std::string& s) {
  std::vector<Token> tokens;
  auto digit = [&](std::size_t i) {
    return i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]));
  };
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isspace(c)) {
      ++i;
    } else if (digit(i) || (c == '.' && digit(i + 1))) {
      std::size_t j = i;
      while (digit(j)) ++j;
      if (j < s.size() && s[j] == '.' && digit(j + 1)) {
        ++j;
        while (digit(j)) ++j;
      }
      const std::string text = s.substr(i, j - i);
      tokens.push_back({Token::kNumber, text, std::strtod(text.c_str(), nullptr)});
      i = j;
    } else if (std::isalpha(c)) {
      std::size_t j = i;
      while (j < s.size() && std::isalnum(static_cast<unsigned char>(s[j]))) ++j;
      tokens.push_back({Token::kWord, s.substr(i, j - i)});
      i = j;
    } else {
      tokens.push_back({Token::kSymbol, std::string(1, s[i])});
      ++i;
    }
  }
  return tokens;
}

// Milliseconds per unit word.
std::optional<double> time_unit(const Token& t) {
  static const std::map<std::string, double, std::less<>> kUnits = {
      {"ns", 1e-6},    {"nanosecond", 1e-6},  {"nanoseconds", 1e-6},  {"us", 1e-3},  {"usec", 1e-3},
      {"usecs", 1e-3}, {"microsecond", 1e-3}, {"microseconds", 1e-3}, {"ms", 1},     {"msec", 1},
      {"msecs", 1},    {"millisecond", 1},    {"milliseconds", 1},    {"s", 1e3},    {"sec", 1e3},
      {"secs", 1e3},   {"second", 1e3},       {"seconds", 1e3},       {"min", 6e4},  {"mins", 6e4},
      {"minute", 6e4}, {"minutes", 6e4},      {"h", 3.6e6},           {"hr", 3.6e6}, {"hrs", 3.6e6},
      {"hour", 3.6e6}, {"hours", 3.6e6}};
  if (t.kind != Token::kWord) return std::nullopt;
  const auto it = kUnits.find(t.text);
  return it == kUnits.end() ? std::nullopt : std::optional<double>(it->second);
}

// Words and symbols that may stand between the parts of "mean +/- deviation".
bool filler(const Token& t) {
  static const std::set<std::string, std::less<>> kWords = {
      "about",    "approximately", "approx", "around", "roughly", "mean",   "average",
      "avg",      "deviation",     "dev",    "std",    "stddev",  "is",     "of",
      "be",       "would",         "will",   "ca",     "circa",   "nearly", "estimated",
      "expected", "typically",     "value",  "a",      "an",      "with"};
  if (t.kind == Token::kWord) return kWords.contains(t.text);
  return t.kind == Token::kSymbol && (t.text == "=" || t.text == ":" || t.text == "(" ||
                                      t.text == ")" || t.text == "[" || t.text == "]");
}

bool symbol(const std::vector<Token>& tokens, std::size_t i, char c) {
  return i < tokens.size() && tokens[i].kind == Token::kSymbol && tokens[i].text[0] == c;
}

struct Quantity {
  bool has_time_unit = false;
  bool other_unit = false;  // "1.8 GHz", "4 cores": a number, but not a time
  double mean_ms = 0;
  double deviation_ms = 0;
  bool reversed = false;
};

Quantity read_quantity(const std::vector<Token>& t, std::size_t i) {
  Quantity q;
  auto skip = [&](std::size_t j) {
    while (j < t.size() && filler(t[j])) ++j;
    return j;
  };
  auto unit_at = [&](std::size_t& j) -> std::optional<double> {
    if (j < t.size()) {
      if (auto u = time_unit(t[j])) return ++j, u;
    }
    return std::nullopt;
  };
  const double a = t[i].value;
  std::size_t j = i + 1;
  std::optional<double> unit_a = unit_at(j);
  // A word after the number is its unit unless it is a time unit or the "to" of a range.
  if (!unit_a && j < t.size() && t[j].kind == Token::kWord && !filler(t[j]) && t[j].text != "to") {
    q.other_unit = true;
    return q;
  }
  std::optional<double> b, unit_b, d, unit_d, unit_end;
  bool percent = false;
  std::size_t k = skip(j);
  if ((symbol(t, k, '-') || (k < t.size() && t[k].kind == Token::kWord && t[k].text == "to"))) {
    const std::size_t n = skip(k + 1);
    if (n < t.size() && t[n].kind == Token::kNumber) {
      b = t[n].value;
      j = n + 1;
      unit_b = unit_at(j);
      k = skip(j);
    }
  }
  if (symbol(t, k, kPlusMinus)) {
    const std::size_t n = skip(k + 1);
    if (n < t.size() && t[n].kind == Token::kNumber) {
      d = t[n].value;
      j = n + 1;
      if (symbol(t, j, '%')) {
        percent = true;
        ++j;
      } else {
        unit_d = unit_at(j);
      }
    }
  }
  if (!unit_a && !unit_b && !unit_d) {
    std::size_t e = skip(j);
    unit_end = unit_at(e);
  }
  const std::optional<double> unit = unit_a ? unit_a : unit_b ? unit_b : unit_d ? unit_d : unit_end;
  if (!unit) return q;
  q.has_time_unit = true;
  if (b) {
    q.reversed = *b < a;
    q.mean_ms = (a + *b) / 2 * *unit;
    q.deviation_ms = (*b - a) / 2 * *unit;
  } else {
    q.mean_ms = a * *unit;
  }
  if (d) q.deviation_ms = percent ? q.mean_ms * *d / 100 : *d * (unit_d ? *unit_d : *unit);
  return q;
}

std::string excerpt(std::string_view answer) {
  std::string s(answer.substr(0, 100));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return "\"" + s + (answer.size() > 100 ? "...\"" : "\"");
}

}  // namespace

LlmAnswer parse_llm_answer(std::string_view answer) {
  const std::vector<Token> t = tokenize(normalize(answer));
  // Starts to search from: after each "inference time"/"inference latency", then the start.
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i + 1 < t.size(); ++i) {
    if (t[i].kind == Token::kWord && t[i].text == "inference" &&
        (t[i + 1].text == "time" || t[i + 1].text == "latency")) {
      starts.push_back(i + 2);
    }
  }
  starts.push_back(0);
  bool unitless = false;
  for (std::size_t start : starts) {
    const std::size_t end = start == 0 ? t.size() : std::min(t.size(), start + 40);
    for (std::size_t i = start; i < end; ++i) {
      if (t[i].kind != Token::kNumber) continue;
      const Quantity q = read_quantity(t, i);
      if (q.other_unit) continue;
      if (!q.has_time_unit) {
        unitless = true;
        continue;
      }
      if (q.reversed) throw Unavailable("llm: reversed range in the answer " + excerpt(answer));
      if (!(q.mean_ms > 0) || !std::isfinite(q.mean_ms)) {
        throw Unavailable("llm: non-positive inference time in the answer " + excerpt(answer));
      }
      if (q.mean_ms > kMaxMs) {
        throw Unavailable("llm: inference time over an hour in the answer " + excerpt(answer));
      }
      return {q.mean_ms, q.deviation_ms};
    }
  }
  if (unitless) throw Unavailable("llm: no time unit in the answer " + excerpt(answer));
  throw Unavailable("llm: no \"inference time = mean +/- deviation\" in the answer " +
                    excerpt(answer));
}

// ---------------------------------------------------------------------------------------------
// Prompt and HTTP

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

std::string diga_prompt(std::string_view model_name, const v1::Device& device) {
  std::string prompt =
      "You are an expert in Machine Learning and Computer Architecture. You have expertise with "
      "the most popular machine learning models. Which is the expected inference time for " +
      std::string(model_name) + " to execute one inference in a device with a memory of " +
      num(device.ram_gb()) + " GB and a CPU frequency of " + num(device.clock_ghz()) +
      " GHz, with " + std::to_string(device.cores()) +
      " cores. Give me the answer in the format : inference time = mean +/- deviation with a "
      "specific mean value and a range deviation.";
  if (device.gpus_size() > 0) {
    const v1::Gpu& g = device.gpus(0);
    prompt += " The device has also a GPU with " + num(g.memory_gb()) + " GB of memory and " +
              std::to_string(g.cores()) + " cores with " + num(g.clock_ghz()) +
              " GHz of frequency.";
  }
  return prompt;
}

std::string ollama_generate(const LlmConfig& config, std::string_view prompt) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::string url = config.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (!url.ends_with("/api/generate")) url += "/api/generate";
  const std::string body =
      nlohmann::json{{"model", config.model}, {"prompt", prompt}, {"stream", false}}.dump();

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Unavailable("llm: cannot initialize libcurl");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"), curl_slist_free_all);
  std::string response;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config.timeout_s * 1000));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) throw Unavailable("llm: " + url + ": " + curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    throw Unavailable("llm: " + url + ": HTTP " + std::to_string(status) + " " +
                      response.substr(0, 200));
  }
  const nlohmann::json j = nlohmann::json::parse(response, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("response") || !j["response"].is_string()) {
    throw Unavailable("llm: " + url + ": the reply has no \"response\" text");
  }
  return j["response"].get<std::string>();
}

LlmEstimator::LlmEstimator(LlmConfig config) : config_(std::move(config)) {
  if (config_.url.empty()) throw Error("llm: no URL configured (--llm-url)");
  if (!(config_.timeout_s > 0)) throw Error("llm: timeout must be > 0 s");
}

Estimate LlmEstimator::estimate(const Query& query) const {
  check_batch("llm", query.batch);
  const std::string model_name = query.display_name.empty() ? query.model.name : query.display_name;
  const LlmAnswer a = parse_llm_answer(
      ollama_generate(config_, diga_prompt(model_name, query.capability.device())));
  char basis[200];
  std::snprintf(basis, sizeof basis, "%s answered %.4g +/- %.4g ms for one inference%s",
                config_.model.c_str(), a.mean_ms, a.deviation_ms,
                query.batch > 1 ? ", times the batch" : "");
  return {a.mean_ms * query.batch, (a.mean_ms + a.deviation_ms) * query.batch, name(), basis};
}

}  // namespace fleetml::estimation
