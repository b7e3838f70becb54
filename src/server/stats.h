#pragma once
// Live traffic numbers for the dashboard (GET /api/stats), aggregated in memory from the same
// ledger rows the ledger writer stores: totals and breakdowns (model, route, key, status) since
// this process started, a timeline of fixed-width time buckets over a sliding window, and exact
// nearest-rank latency / time-to-first-token percentiles over a bounded sample of the most
// recent requests. Per process: several replicas each see their own traffic only (use
// Prometheus or `rightsize report` over a shared ledger for fleet totals; docs/dashboard.md).

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ledger/record.h"
#include "ledger/shadow_quality.h"

namespace rightsize::server {

struct StatsOptions {
  std::chrono::seconds bucket{10};  // timeline resolution
  size_t buckets = 360;             // timeline window = bucket * buckets (1 hour)
  size_t sample = 10000;            // latency percentiles over the last `sample` requests
  size_t top_keys = 10;             // keys listed by spend
};

class Stats {
 public:
  using Options = StatsOptions;

  // `started`: reported as started_us (when this process began counting).
  explicit Stats(Options opts = {}, std::chrono::system_clock::time_point started = std::chrono::system_clock::now());
  Stats(const Stats&) = delete;
  Stats& operator=(const Stats&) = delete;

  // Counts one ledger row. Thread-safe and lock-light: each calling thread updates its own shard
  // (an uncontended mutex held for a few map updates) plus one relaxed atomic increment.
  void record(const ledger::LedgerRecord& r);
  // Counts one shadow grade (docs/shadow.md) for the "shadow" list of json(). Thread-safe (one
  // mutex: a shadow grade is rare).
  void recordShadow(const ledger::ShadowGradeRecord& g);

  // A snapshot as one JSON object (schema in docs/dashboard.md). Money is given as exact integer
  // nano-dollars (*_nanos) and as USD numbers; times as epoch microseconds. The timeline holds
  // the non-empty buckets with start in (now - window, now], oldest first. Thread-safe; takes
  // each shard's lock in turn, so rows recorded meanwhile may or may not be included. Costs
  // O(sample log sample): called per dashboard refresh, not per request.
  std::string json(std::chrono::system_clock::time_point now) const;

  // Nearest-rank percentile (the value at 1-based rank ceil(p/100 * n)) of sorted values, as
  // `rightsize report` computes it; 0 for an empty vector.
  static int64_t percentile(const std::vector<int64_t>& sorted, int p);

  struct Totals {
    int64_t requests = 0;
    int64_t errors = 0;         // status >= 400
    int64_t retried = 0;        // attempts > 1: retried or fell back to another model
    int64_t streams = 0;
    int64_t tokens_in = 0;
    int64_t tokens_out = 0;
    int64_t cached_tokens = 0;     // of tokens_in, read from a provider's prompt cache
    int64_t reasoning_tokens = 0;  // of tokens_out
    ledger::Nanos spend_nanos = 0;
    ledger::Nanos reference_nanos = 0;
    void add(const ledger::LedgerRecord& r);
    void merge(const Totals& o);
  };
  using CountMap = std::map<std::string, int64_t, std::less<>>;
  struct Group {
    Totals totals;
    CountMap models;  // requests per chosen model (routes and keys)
  };
  using GroupMap = std::map<std::string, Group, std::less<>>;
  struct Bucket {
    int64_t index = -1;  // bucket number since the epoch; -1: unused
    Totals totals;
    CountMap models;
  };
  struct Sample {
    uint64_t seq = 0;
    int64_t time_us = 0;
    int64_t latency_us = 0;
    int64_t ttft_us = -1;
  };

 private:
  struct alignas(64) Shard {
    mutable std::mutex mu;
    Totals totals;
    GroupMap models, routes, keys;
    std::map<int, int64_t> statuses;
    std::vector<Bucket> buckets;  // ring by index % buckets, allocated on first use
    std::vector<Sample> samples;  // ring of the shard's last `sample` requests
    size_t next_sample = 0;
  };
  static constexpr size_t kShards = 16;

  Options opts_;
  int64_t bucket_us_;
  int64_t started_us_;
  std::atomic<uint64_t> seq_{0};
  std::array<Shard, kShards> shards_;
  mutable std::mutex shadow_mu_;
  std::map<std::pair<std::string, std::string>, ledger::ShadowTally> shadow_;  // by route, served model
};

}  // namespace rightsize::server
