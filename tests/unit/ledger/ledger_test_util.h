#pragma once
// Helpers shared by the ledger tests: sample records, temp dirs, fake sinks.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <fstream>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ledger/record.h"
#include "ledger/report.h"
#include "ledger/sink.h"

namespace rightsize::ledger::testing {

inline constexpr int64_t kNov22 = 1'795'305'600'000'000;  // 2026-11-22T00:00:00Z in epoch microseconds
inline constexpr int64_t kHour = 3'600'000'000;

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

// Every sum of a report group the retention must keep: all but the latency percentiles and the
// rolled-up count.
inline void expectSameSums(const ReportGroup& a, const ReportGroup& b, const std::string& what) {
  EXPECT_EQ(a.group, b.group) << what;
  EXPECT_EQ(a.requests, b.requests) << what << " " << a.group;
  EXPECT_EQ(a.errors, b.errors) << what << " " << a.group;
  EXPECT_EQ(a.model_counts, b.model_counts) << what << " " << a.group;
  EXPECT_EQ(a.spend_nanos, b.spend_nanos) << what << " " << a.group;
  EXPECT_EQ(a.reference_nanos, b.reference_nanos) << what << " " << a.group;
  EXPECT_EQ(a.savingsNanos(), b.savingsNanos()) << what << " " << a.group;
  EXPECT_EQ(a.tokens_in, b.tokens_in) << what << " " << a.group;
  EXPECT_EQ(a.tokens_out, b.tokens_out) << what << " " << a.group;
  EXPECT_EQ(a.cached_tokens, b.cached_tokens) << what << " " << a.group;
  EXPECT_EQ(a.cache_write_tokens, b.cache_write_tokens) << what << " " << a.group;
  EXPECT_EQ(a.reasoning_tokens, b.reasoning_tokens) << what << " " << a.group;
  EXPECT_EQ(a.usage_estimated, b.usage_estimated) << what << " " << a.group;
}

inline void expectSameSums(const Report& a, const Report& b, const std::string& what) {
  ASSERT_EQ(a.groups.size(), b.groups.size()) << what;
  for (size_t i = 0; i < a.groups.size(); ++i) expectSameSums(a.groups[i], b.groups[i], what);
  expectSameSums(a.total, b.total, what);
}

// The retention contract of a sink (sink.h purgeRequests), the same for SQLite and PostgreSQL,
// read back through `report` (buildReport or buildReportPostgres on the same database):
// 300 requests an hour apart over 13 UTC days; purging before a time inside a day purges only
// the whole days before it, keeps every newer row, and leaves every report sum (per route, key,
// day, model; whole range and a day-aligned range) as it was; a re-run changes nothing; a row
// that arrives late for a purged day is added to its rollup by the next purge.
inline void checkRetention(LedgerSink& sink, const std::function<Result<Report>(const ReportOptions&)>& report) {
  std::vector<LedgerRecord> batch;
  for (int i = 0; i < 300; ++i) {
    batch.push_back(sampleRecord(i));
    batch.back().time += std::chrono::hours(i);
  }
  ASSERT_TRUE(sink.writeBatch(batch));
  const std::vector<FeedbackRecord> fb = {{batch[1].time, batch[1].request_id, 0.5},
                                          {batch[299].time, batch[299].request_id, 1.0}};
  ASSERT_TRUE(sink.writeFeedback(fb));
  const auto before = batch[200].time;  // inside a UTC day
  const int64_t cut = utcDayStartMicros(toEpochMicros(before));
  ASSERT_LT(cut, toEpochMicros(before));
  int64_t expected_purged = 0;
  for (const auto& r : batch) expected_purged += toEpochMicros(r.time) < cut ? 1 : 0;
  ASSERT_GT(expected_purged, 100);
  ASSERT_LT(expected_purged, 200);

  const int64_t first_day = utcDayStartMicros(toEpochMicros(batch[0].time));
  std::vector<ReportOptions> ranges;
  for (auto by : {ReportGrouping::kRoute, ReportGrouping::kKey, ReportGrouping::kDay, ReportGrouping::kModel}) {
    ReportOptions all;
    all.by = by;
    ranges.push_back(all);
    ReportOptions days = all;  // from the 2nd day to the 11th: purged and kept days
    days.since_us = first_day + kMicrosPerDay;
    days.until_us = first_day + 10 * kMicrosPerDay;
    ranges.push_back(days);
  }
  std::vector<Report> kept;
  for (const auto& o : ranges) {
    auto r = report(o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->total.rolled_up_requests, 0);
    kept.push_back(*r);
  }
  ASSERT_EQ(kept[0].total.requests, 300);

  auto purged = sink.purgeRequests(before);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, expected_purged);
  std::vector<Report> after;
  for (size_t i = 0; i < ranges.size(); ++i) {
    auto r = report(ranges[i]);
    ASSERT_TRUE(r) << r.error().message;
    const std::string what = fmt::format("range {} by {}", i, reportGroupingName(ranges[i].by));
    expectSameSums(kept[i], *r, what);
    after.push_back(*r);
  }
  // The whole range: the purged rows are rolled up, the newer ones kept (their latencies only).
  EXPECT_EQ(after[0].total.rolled_up_requests, expected_purged);
  EXPECT_EQ(after[0].total.requests - after[0].total.rolled_up_requests, 300 - expected_purged);
  const int64_t kept_rows = 300 - expected_purged;
  const int64_t p50_rank = (50 * kept_rows + 99) / 100;  // latencies are 150'000 + i, i the row
  EXPECT_EQ(after[0].total.latency_p50.count(), 150'000 + expected_purged + p50_rank - 1)
      << "p50 over the kept rows only";
  EXPECT_NE(formatReportText(after[0]).find(fmt::format("note: {} of these requests were rolled up", expected_purged)),
            std::string::npos);

  // Re-run: nothing left before the cut, every report unchanged.
  auto again = sink.purgeRequests(before);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, 0);
  for (size_t i = 0; i < ranges.size(); ++i) {
    auto r = report(ranges[i]);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(formatReportJson(*r), formatReportJson(after[i])) << "re-run changed range " << i;
  }

  // A purge of a cut before every row changes nothing either.
  EXPECT_EQ(sink.purgeRequests(batch[0].time - std::chrono::hours(48)).value(), 0);

  // A late row (a spill replay) for a purged day: written, then added to that day's rollup.
  LedgerRecord late = sampleRecord(1);  // route chat, key key-1, model llama-3.1-8b
  late.request_id = "req-late";
  late.time = batch[1].time + std::chrono::minutes(1);
  ASSERT_TRUE(sink.writeBatch(std::span<const LedgerRecord>(&late, 1)));
  EXPECT_EQ(sink.purgeRequests(before).value(), 1);
  auto with_late = report(ranges[0]);
  ASSERT_TRUE(with_late) << with_late.error().message;
  EXPECT_EQ(with_late->total.requests, 301);
  EXPECT_EQ(with_late->total.rolled_up_requests, expected_purged + 1);
  EXPECT_EQ(with_late->total.spend_nanos, kept[0].total.spend_nanos + late.cost_nanos);
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
