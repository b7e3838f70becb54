#pragma once
// Helpers shared by the ledger tests: sample records, temp dirs, fake sinks.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ledger/record.h"
#include "ledger/sink.h"

namespace rightsize::ledger::testing {

inline LedgerRecord sampleRecord(int i) {
  LedgerRecord r;
  r.time = fromEpochMicros(1'700'000'000'000'000 + i * 1000 + 7);
  r.request_id = fmt::format("req-{:06}", i);
  r.key_id = i % 3 == 0 ? "" : fmt::format("key-{}", i % 5);
  r.route = i % 2 ? "chat" : "extract";
  r.model = i % 4 ? "llama-3.1-8b" : "gpt-4o";
  r.provider = i % 4 ? "local-vllm" : "openai";
  r.candidates = "llama-3.1-8b,gpt-4o-mini,gpt-4o";
  r.knob = i % 3 == 0 ? -1 : 0.125 * (i % 8);
  r.decision = std::chrono::microseconds(3 + i % 17);
  r.tokens_in = 100 + i;
  r.tokens_out = 20 + i % 50;
  r.cached_tokens = i % 3 == 1 ? 60 + i % 40 : 0;  // of tokens_in (schema 3 / postgres 2)
  r.cache_write_tokens = i % 6 == 2 ? 10 : 0;
  r.reasoning_tokens = i % 4 == 3 ? 5 + i % 10 : 0;
  r.usage_estimated = i % 9 == 4;
  r.cost_nanos = 1234 + i;
  r.reference_model = "gpt-4o";
  r.reference_cost_nanos = 987654 + i;
  r.latency = std::chrono::microseconds(150'000 + i);
  r.ttft = i % 2 ? std::chrono::microseconds(40'000 + i) : std::chrono::microseconds(-1);
  r.status = i % 10 == 0 ? 502 : 200;
  r.error = i % 10 == 0 ? "upstream \"said\" no\nsecond line \\ é" : "";
  r.attempts = 1 + i % 3;
  r.sensitive = i % 7 == 0;
  r.stream = i % 2 == 1;
  r.prompt = i % 4 == 1 ? fmt::format("prompt {}: \"quoted\"\nsecond line é", i) : "";
  r.attempts_detail = i % 5 == 2 ? R"([{"model":"llama-3.1-8b","result":"rejected"}])" : "";
  return r;
}

// A fresh directory under the system temp dir, removed at scope exit.
// The stored-response contract of a sink (sink.h), the same for SQLite and PostgreSQL: put,
// replace, get, a sensitive one without content, delete, purge by age.
inline void checkResponseStorage(LedgerSink& sink) {
  StoredResponse a{"resp_a", fromEpochMicros(1'700'000'000'000'000), "key-1", false,
                   R"([{"type":"message","role":"user","content":"hi \u00e9 é"}])", R"({"id":"resp_a","output":[]})"};
  StoredResponse b{"resp_b", fromEpochMicros(1'700'000'100'000'000), "", true, "", ""};
  ASSERT_TRUE(sink.putResponse(a));
  ASSERT_TRUE(sink.putResponse(b));
  auto got = sink.getResponse("resp_a");
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, a);
  auto sens = sink.getResponse("resp_b");
  ASSERT_TRUE(sens && sens->has_value());
  EXPECT_TRUE((*sens)->sensitive);
  EXPECT_EQ((*sens)->key_id, "");
  EXPECT_EQ((*sens)->conversation, "");
  // A sensitive record given content keeps none of it.
  StoredResponse leaky = b;
  leaky.id = "resp_c";
  leaky.conversation = "[secret]";
  leaky.response = "{secret}";
  ASSERT_TRUE(sink.putResponse(leaky));
  EXPECT_EQ(sink.getResponse("resp_c").value()->conversation, "");
  EXPECT_EQ(sink.getResponse("resp_c").value()->response, "");
  // Same id again: replaced.
  a.response = R"({"id":"resp_a","output":[1]})";
  ASSERT_TRUE(sink.putResponse(a));
  EXPECT_EQ(sink.getResponse("resp_a").value()->response, a.response);
  auto missing = sink.getResponse("resp_zz");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  EXPECT_TRUE(sink.deleteResponse("resp_c").value());
  EXPECT_FALSE(sink.deleteResponse("resp_c").value());
  EXPECT_FALSE(sink.getResponse("resp_c").value().has_value());
  // Purge: only what is older than the cut.
  EXPECT_EQ(sink.purgeResponses(fromEpochMicros(1'700'000'050'000'000)).value(), 1);
  EXPECT_FALSE(sink.getResponse("resp_a").value().has_value());
  EXPECT_TRUE(sink.getResponse("resp_b").value().has_value());
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / fmt::format("rs-ledger-test-{:x}{:x}", rd(), rd());
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline std::vector<std::string> readLines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// Keeps what it is given; can be made to fail the next N batches, or to block until
// released.
class FakeSink : public LedgerSink {
 public:
  Result<void> migrate() override { return {}; }
  Result<void> writeBatch(std::span<const LedgerRecord> records) override {
    std::unique_lock lk(mu_);
    ++calls_;
    batch_sizes_.push_back(records.size());
    if (block_) {
      blocked_ = true;
      cv_.notify_all();
      cv_.wait(lk, [this] { return !block_; });
      blocked_ = false;
    }
    if (fail_next_ > 0) {
      --fail_next_;
      return fail(ErrorCode::kIo, "fake sink: disk on fire");
    }
    stored_.insert(stored_.end(), records.begin(), records.end());
    cv_.notify_all();
    return {};
  }
  Result<void> writeFeedback(std::span<const FeedbackRecord> feedback) override {
    std::lock_guard lk(mu_);
    if (fail_next_ > 0) {
      --fail_next_;
      return fail(ErrorCode::kIo, "fake sink: disk on fire");
    }
    feedback_.insert(feedback_.end(), feedback.begin(), feedback.end());
    return {};
  }
  std::vector<FeedbackRecord> feedback() {
    std::lock_guard lk(mu_);
    return feedback_;
  }
  void failNext(int n) {
    std::lock_guard lk(mu_);
    fail_next_ = n;
  }
  void block() {
    std::lock_guard lk(mu_);
    block_ = true;
  }
  void release() {
    std::lock_guard lk(mu_);
    block_ = false;
    cv_.notify_all();
  }
  // Waits (up to 10 s) until a writeBatch call is parked in block().
  bool waitBlocked() {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, std::chrono::seconds(10), [this] { return blocked_; });
  }
  std::vector<LedgerRecord> stored() {
    std::lock_guard lk(mu_);
    return stored_;
  }
  std::vector<size_t> batchSizes() {
    std::lock_guard lk(mu_);
    return batch_sizes_;
  }
  int calls() {
    std::lock_guard lk(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<LedgerRecord> stored_;
  std::vector<FeedbackRecord> feedback_;
  std::vector<size_t> batch_sizes_;
  int fail_next_ = 0;
  int calls_ = 0;
  bool block_ = false;
  bool blocked_ = false;
};

// Polls `pred` until it holds or 10 s pass.
template <typename Pred>
bool eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

}  // namespace rightsize::ledger::testing
