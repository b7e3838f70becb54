#pragma once
// Shadow evaluation (docs/shadow.md): a sampled share of a route's answered requests is asked
// again of a yardstick model after the client's answer is complete, and the two answers are
// graded (agree: the answer extractors of the cascade; judge: a judge model's 0-10 score of each).
// The shadow never delays or fails a client: the account stage only offers a finished request to
// a bounded queue (a full queue drops the job, counted), and worker coroutines make the calls,
// through the same providers and breakers the dispatch uses. Every grade is counted in
// rightsize_shadow_total{route,model,result} and handed to the ledger (shadow_grades); shadow calls
// are paid for apart from the request, capped per route and UTC day (usd_per_day).
//
// Privacy: a sensitive request is never sent to a remote yardstick or judge (skipped_sensitive);
// a shadowed prompt is stored (the human's ask) unless the request is sensitive, whatever
// ledger.store_prompts says.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "api/chat_request.h"
#include "common/money.h"
#include "config/config.h"
#include "http/asio.h"
#include "ledger/record.h"
#include "routing/extract.h"

namespace rightsize::pipeline {

namespace asio = boost::asio;
struct RequestContext;
struct Services;

// Which requests are shadowed: the dice (a seeded generator) and each route's spend per UTC day
// against its cap. Thread-safe.
class ShadowSampler {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  // `clock` tells the UTC day (default: the system clock); `seed` makes the dice repeatable.
  explicit ShadowSampler(uint64_t seed = std::random_device{}(), Clock clock = {});

  // True with probability `share` in [0, 1] (0: never, 1: always).
  bool roll(double share);
  // `route`'s shadow spend of the current UTC day is below `cap`; a new UTC day starts at zero.
  bool underCap(const std::string& route, Nanos cap);
  // Adds `n` to `route`'s spend of the current UTC day.
  void spend(const std::string& route, Nanos n);
  // `route`'s spend of the current UTC day.
  Nanos spentToday(const std::string& route);

 private:
  struct Day {
    int64_t day = 0;  // days since the epoch (UTC)
    Nanos spent = 0;
  };
  Day& today(const std::string& route);  // mu_ held

  std::mutex mu_;
  std::mt19937_64 rng_;
  Clock clock_;
  std::map<std::string, Day, std::less<>> spend_;
};

// A grade: result agree | disagree | scored | error, with the scores in [0, 1] of `scored`.
struct ShadowVerdict {
  std::string result;
  double served_score = -1;
  double yardstick_score = -1;
  std::string error;  // result error: why
};

// agree: the served and yardstick answers agree when `extract` reads the same value from both.
// No value from the yardstick's answer is an error (nothing to compare with); no value from the
// served answer is a disagreement.
ShadowVerdict gradeAgree(const routing::Extractor& extract, std::string_view served, std::string_view yardstick);
// judge: the judge's replies about the served and the yardstick answers (routing::parseJudgeScore);
// a reply that is not a score 0-10 is an error, never a score.
ShadowVerdict gradeJudge(std::string_view served_reply, std::string_view yardstick_reply);

// Appends the answer text of one OpenAI stream chunk payload (choices[0].delta.content) to `out`:
// how a streamed answer is kept for its shadow.
void appendDeltaText(std::string& out, std::string_view chunk);

// One request to shadow: copies of what the worker needs, and the gateway (services, config,
// providers) kept alive until the job is done.
struct ShadowJob {
  std::shared_ptr<const void> hold;
  const Services* services = nullptr;
  const config::ShadowConfig* shadow = nullptr;
  const routing::Extractor* extract = nullptr;  // agree grading
  const config::ModelConfig* served = nullptr;
  const config::ModelConfig* yardstick = nullptr;
  const config::ModelConfig* judge = nullptr;   // judge grading
  std::chrono::system_clock::time_point time{};
  std::string request_id;
  std::string route;
  std::string body;                             // the client's body, OpenAI-shaped
  api::ChatRequest chat;
  std::string ask;                              // the human's ask
  std::string answer;                           // the served answer's text
  bool sensitive = false;
};

// A bounded FIFO of jobs. Thread-safe.
class ShadowQueue {
 public:
  explicit ShadowQueue(size_t capacity) : capacity_(capacity) {}
  // False (the job is not taken) when `capacity` jobs are waiting.
  bool push(std::unique_ptr<ShadowJob> job);
  // The oldest job, or null when none waits.
  std::unique_ptr<ShadowJob> pop();
  // Removes every waiting job; returns how many.
  size_t clear();
  size_t size() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<std::unique_ptr<ShadowJob>> jobs_;
};

// Runs the shadow jobs: offer() from the account stage, worker coroutines on the executors
// `executor` gives. One per process, shared by every gateway a live reload builds (so the daily
// spend survives a reload); must outlive the worker contexts. Thread-safe.
class ShadowRunner {
 public:
  struct Options {
    size_t queue = 256;   // server.shadow_queue
    size_t workers = 4;   // jobs run at once
  };
  struct Counts {
    uint64_t offered = 0, queued = 0, graded = 0, dropped = 0, skipped_sensitive = 0, over_budget = 0;
  };
  using ExecutorFn = std::function<asio::any_io_executor()>;
  ShadowRunner(Options opts, ExecutorFn executor, ShadowSampler& sampler);

  // Dispatch time: whether this request's answer is kept for a shadow (its route has a shadow
  // and the dice say so). Sets ctx.info.shadow.
  void sample(RequestContext& ctx) const;
  // Account time (the client's answer is complete): a kept, answered (200) request whose model
  // is not the yardstick becomes a job — unless it is sensitive and the yardstick or judge is
  // remote (skipped_sensitive), the route is over its daily cap (over_budget), the queue is full
  // or the runner stopped (dropped). Never waits. Reads ctx.info before the ledger row moves it.
  void offer(RequestContext& ctx, const Services& s);

  // Jobs waiting or running.
  size_t pending() const;
  // Drain deadline: drops every waiting job and forgets the running ones (their results are not
  // recorded); later offers are dropped. Returns how many were dropped. Idempotent.
  size_t stop();
  Counts counts() const;

 private:
  asio::awaitable<void> work();
  asio::awaitable<void> run(ShadowJob& job);
  void count(const Services& s, std::string_view route, std::string_view model, std::string_view result);

  const Options opts_;
  const ExecutorFn executor_;
  ShadowSampler& sampler_;
  ShadowQueue queue_;
  mutable std::mutex mu_;  // guards the three below
  size_t workers_ = 0;     // worker coroutines alive
  size_t running_ = 0;     // jobs being run
  bool stopped_ = false;
  std::atomic<uint64_t> offered_{0}, queued_{0}, graded_{0}, dropped_{0}, skipped_sensitive_{0}, over_budget_{0};
};

}  // namespace rightsize::pipeline
