#include "shared/estimation/llm.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/estimation/test_support.h"

namespace fleetml::estimation {
namespace {

// ---------------------------------------------------------------------------------------------
// Parser

struct Case {
  const char* answer;
  double mean_ms;
  double deviation_ms;
};

TEST(LlmParser, ReadsRealisticAnswerFormats) {
  const Case cases[] = {
      {"inference time = 45 ms +/- 5 ms", 45, 5},
      {"**Inference time = 120.5 \u00b1 15.2 ms**", 120.5, 15.2},
      {"Inference time = 0.25 s +/- 0.05 s", 250, 50},
      {"The expected inference time is about 30-40 ms on this device.", 35, 5},
      {"inference time = 1,5 s \u00b1 0,2 s", 1500, 200},
      {"Inference time = 800 \u00b5s +/- 100 \u00b5s", 0.8, 0.1},
      {"Based on the 1.8 GHz CPU with 4 cores and 8 GB of memory, inference time = 200 "
       "milliseconds +/- 50 milliseconds.",
       200, 50},
      {"inference time = mean 35 ms +/- deviation 5 ms", 35, 5},
      {"Inference time: ~12 ms (\u00b1 2 ms)", 12, 2},
      {"inference time = 45 +/- 5 ms", 45, 5},
      {"inference time = 60 ms +/- 10%", 60, 6},
      {"Inference Time = 2 seconds \u00b1 0.5 seconds", 2000, 500},
      {"inference time = 1,200 ms +- 300 ms", 1200, 300},
      {"You asked for the format: inference time = mean +/- deviation\n\nInference time = 85 ms "
       "+/- 15 ms\n\nThis assumes FP32 and batch size 1.",
       85, 15},
      {"Inference time \u2248 0.15 s (\u00b10.03 s)", 150, 30},
      {"inference time = 30 to 40 ms", 35, 5},
      {"For ResNet-50 the inference latency would be approximately 1.2 seconds plus or minus "
       "0.3 seconds.",
       1200, 300},
      {"Sure! Here is my estimate:\n- **Inference time** = **25ms** \u00b1 **3ms**", 25, 3},
      {"MobileNetV2 is light (3.5 million parameters). Expected: about 50 ms.", 50, 0},
      {"inference time = 12.5ms \u2013 15ms", 13.75, 1.25},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.answer);
    const LlmAnswer a = parse_llm_answer(c.answer);
    EXPECT_NEAR(a.mean_ms, c.mean_ms, 1e-9 * c.mean_ms);
    EXPECT_NEAR(a.deviation_ms, c.deviation_ms, 1e-9 + 1e-9 * c.deviation_ms);
  }
}

TEST(LlmParser, RejectsNonsenseWithAClearReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"I'm sorry, but I cannot predict the inference time without running a benchmark.",
       "no \"inference time"},
      {"inference time = mean +/- deviation", "no \"inference time"},
      {"inference time = 45 +/- 5", "no time unit"},
      {"inference time = 0 ms +/- 0 ms", "non-positive"},
      {"The model needs 1.8 GFLOPs and 11.7 million parameters on 4 cores.", "no \"inference"},
      {"inference time = 3 hours +/- 1 hour... just kidding, 9999 hours", "over an hour"},
      {"inference time = 50-20 ms", "reversed range"},
      {"inference time = NaN ms", "no \"inference time"},
      {"", "no \"inference time"},
  };
  for (const auto& [answer, reason] : cases) {
    SCOPED_TRACE(answer);
    try {
      parse_llm_answer(answer);
      ADD_FAILURE() << "accepted";
    } catch (const Unavailable& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
}

TEST(LlmPrompt, IsDigasPromptWithTheGpuSentenceWhenThereIsAGpu) {
  v1::Device d;
  d.set_ram_gb(8);
  d.set_clock_ghz(1.8);
  d.set_cores(4);
  EXPECT_EQ(diga_prompt("ResNet18", d),
            "You are an expert in Machine Learning and Computer Architecture. You have expertise "
            "with the most popular machine learning models. Which is the expected inference time "
            "for ResNet18 to execute one inference in a device with a memory of 8 GB and a CPU "
            "frequency of 1.8 GHz, with 4 cores. Give me the answer in the format : inference "
            "time = mean +/- deviation with a specific mean value and a range deviation.");
  d.set_ram_gb(4);
  d.set_clock_ghz(1.43);
  v1::Gpu& g = *d.add_gpus();
  g.set_memory_gb(4);
  g.set_cores(128);
  g.set_clock_ghz(0.921);
  const std::string jetson = diga_prompt("MobileNetV2", d);
  EXPECT_NE(jetson.find("memory of 4 GB and a CPU frequency of 1.43 GHz, with 4 cores."),
            std::string::npos);
  EXPECT_TRUE(jetson.ends_with(
      "range deviation. The device has also a GPU with 4 GB of memory and 128 cores with 0.921 "
      "GHz of frequency."))
      << jetson;
}

// ---------------------------------------------------------------------------------------------
// A stand-in for an Ollama server (no real LLM runs in tests): answers every POST on
// 127.0.0.1 with a fixed status and body, records the last request, or never answers.

class StandInLlmServer {
 public:
  StandInLlmServer(int status, std::string body, bool hang = false)
      : status_(status), body_(std::move(body)), hang_(hang) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 4);
    thread_ = std::thread([this] { serve(); });
  }
  ~StandInLlmServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string request() const {
    std::lock_guard lock(mutex_);
    return request_;
  }

 private:
  void serve() {
    while (!stop_) {
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::string req;
      char buf[4096];
      for (;;) {
        const std::size_t header_end = req.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          const std::size_t cl = req.find("Content-Length: ");
          const std::size_t length = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
          if (req.size() >= header_end + 4 + length) break;
        }
        const ssize_t n = ::recv(client, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mutex_);
        request_ = req;
      }
      if (hang_) {
        while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      } else {
        const std::string reply = "HTTP/1.1 " + std::to_string(status_) +
                                  " X\r\nContent-Type: application/json\r\nContent-Length: " +
                                  std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" +
                                  body_;
        (void)::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
      ::close(client);
    }
  }

  int status_;
  std::string body_;
  bool hang_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::string request_;
  std::thread thread_;
};

std::string ollama_reply(const std::string& text) {
  return nlohmann::json{{"model", "mistral"}, {"response", text}, {"done", true}}.dump();
}

TEST(LlmEstimator, AsksTheStandInServerWithDigasPromptAndParsesTheAnswer) {
  StandInLlmServer server(200, ollama_reply("**Inference time = 120 ms \u00b1 30 ms**"));
  const LlmEstimator estimator({server.url(), "mistral", 10});
  const model::ModelProfile m = testing::cnn(1);
  const v1::Capability cap = testing::device();
  const Estimate e = estimator.estimate({m, cap, 2, "ResNet18"});
  EXPECT_EQ(e.estimator, "llm");
  EXPECT_DOUBLE_EQ(e.point_ms, 240);
  EXPECT_DOUBLE_EQ(e.bound_ms, 300);

  const std::string request = server.request();
  EXPECT_EQ(request.rfind("POST /api/generate HTTP/1.1\r\n", 0), 0u) << request;
  const nlohmann::json body = nlohmann::json::parse(request.substr(request.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["model"], "mistral");
  EXPECT_EQ(body["stream"], false);
  EXPECT_EQ(body["prompt"], diga_prompt("ResNet18", cap.device()));
}

TEST(LlmEstimator, ReportsServerErrorsNonsenseAndTimeouts) {
  const model::ModelProfile m = testing::cnn(1);
  const v1::Capability cap = testing::device();
  {
    StandInLlmServer server(500, "{\"error\": \"model not found\"}");
    EXPECT_THROW(LlmEstimator({server.url(), "mistral", 10}).estimate({m, cap}), Unavailable);
  }
  {
    StandInLlmServer server(200, ollama_reply("I cannot know that."));
    EXPECT_THROW(LlmEstimator({server.url(), "mistral", 10}).estimate({m, cap}), Unavailable);
  }
  {
    StandInLlmServer server(200, "not json");
    EXPECT_THROW(LlmEstimator({server.url(), "mistral", 10}).estimate({m, cap}), Unavailable);
  }
  {
    StandInLlmServer server(200, "", /*hang=*/true);
    try {
      LlmEstimator({server.url() + "/api/generate", "mistral", 0.3}).estimate({m, cap});
      FAIL() << "expected a timeout";
    } catch (const Unavailable& e) {
      EXPECT_NE(std::string(e.what()).find("imeout"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(LlmEstimator({"", "mistral", 10}), Error);
}

}  // namespace
}  // namespace fleetml::estimation
