#include "pipeline/shadow.h"

#include <atomic>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/strings.h"
#include "pipeline/request_context.h"
#include "pipeline/services.h"
#include "routing/checks.h"
#include "routing/cost_estimate.h"
#include "upstream/retry.h"

namespace rightsize::pipeline {

namespace json = boost::json;

// --- ShadowSampler ---

ShadowSampler::ShadowSampler(uint64_t seed, Clock clock) : rng_(seed), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
}

bool ShadowSampler::roll(double share) {
  if (share <= 0) return false;
  if (share >= 1) return true;
  std::lock_guard lk(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < share;
}

ShadowSampler::Day& ShadowSampler::today(const std::string& route) {
  const int64_t day = ledger::utcDayStartMicros(ledger::toEpochMicros(clock_())) / ledger::kMicrosPerDay;
  Day& d = spend_[route];
  if (d.day != day) d = Day{day, 0};  // a new UTC day: the cap starts over
  return d;
}

bool ShadowSampler::underCap(const std::string& route, Nanos cap) {
  std::lock_guard lk(mu_);
  return today(route).spent < cap;
}

void ShadowSampler::spend(const std::string& route, Nanos n) {
  std::lock_guard lk(mu_);
  today(route).spent += n;
}

Nanos ShadowSampler::spentToday(const std::string& route) {
  std::lock_guard lk(mu_);
  return today(route).spent;
}

// --- grading ---

ShadowVerdict gradeAgree(const routing::Extractor& extract, std::string_view served, std::string_view yardstick) {
  const std::optional<std::string> y = extract.extract(yardstick);
  if (!y) return ShadowVerdict{"error", -1, -1, fmt::format("no value ({}) in the yardstick's answer", extract.spec())};
  const std::optional<std::string> s = extract.extract(served);
  return ShadowVerdict{s && *s == *y ? "agree" : "disagree", -1, -1, ""};
}

ShadowVerdict gradeJudge(std::string_view served_reply, std::string_view yardstick_reply) {
  const std::optional<double> s = routing::parseJudgeScore(served_reply);
  const std::optional<double> y = routing::parseJudgeScore(yardstick_reply);
  if (!s || !y) {
    return ShadowVerdict{"error", -1, -1,
                         fmt::format("the judge's reply about the {} answer is not a score 0-10", !s ? "served" : "yardstick")};
  }
  return ShadowVerdict{"scored", *s, *y, ""};
}

void appendDeltaText(std::string& out, std::string_view chunk) {
  if (chunk.find("\"content\"") == std::string_view::npos) return;
  json::error_code ec;
  json::value v = json::parse(json::string_view(chunk.data(), chunk.size()), ec);
  if (ec || !v.is_object()) return;
  const json::value* choices = v.as_object().if_contains("choices");
  if (!choices || !choices->is_array() || choices->as_array().empty() || !choices->as_array()[0].is_object()) return;
  const json::value* delta = choices->as_array()[0].as_object().if_contains("delta");
  if (!delta || !delta->is_object()) return;
  const json::value* content = delta->as_object().if_contains("content");
  if (content && content->is_string()) out.append(content->as_string().data(), content->as_string().size());
}

// --- ShadowQueue ---

bool ShadowQueue::push(std::unique_ptr<ShadowJob> job) {
  std::lock_guard lk(mu_);
  if (jobs_.size() >= capacity_) return false;
  jobs_.push_back(std::move(job));
  return true;
}

std::unique_ptr<ShadowJob> ShadowQueue::pop() {
  std::lock_guard lk(mu_);
  if (jobs_.empty()) return nullptr;
  std::unique_ptr<ShadowJob> j = std::move(jobs_.front());
  jobs_.pop_front();
  return j;
}

size_t ShadowQueue::clear() {
  std::deque<std::unique_ptr<ShadowJob>> gone;
  {
    std::lock_guard lk(mu_);
    gone.swap(jobs_);
  }
  return gone.size();  // destroyed outside the lock: a job may hold the last reference to a gateway
}

size_t ShadowQueue::size() const {
  std::lock_guard lk(mu_);
  return jobs_.size();
}

// --- ShadowRunner ---

namespace {

bool isRemote(const config::Config& cfg, const config::ModelConfig& m) {
  auto p = cfg.providers.find(m.provider);
  return p == cfg.providers.end() || p->second.locality != config::Locality::kOnPrem;
}

struct ModelReply {
  std::optional<std::string> text;  // the answer's text; none: the call failed (error says why)
  std::string error;
  Nanos cost = 0;
};

// One non-streaming call of `m` through its provider's breaker (no retry: a shadow is a sample,
// not a promise), paid for with the one cost function.
asio::awaitable<ModelReply> askModel(const Services& s, const config::ModelConfig& m, const upstream::ChatCall& call,
                                     const api::ChatRequest& chat) {
  ModelReply out;
  auto p = s.providers.find(m.provider);
  if (p == s.providers.end()) {
    out.error = fmt::format("no provider '{}'", m.provider);
    co_return out;
  }
  auto r = co_await upstream::completeOnce(p->second, call);
  if (!r.result) {
    out.error = r.result.error().error.message;
    co_return out;
  }
  const api::Usage usage = r.result->usage ? *r.result->usage
                                           : api::Usage{api::estimateTokens(chat.content_chars),
                                                        api::estimateTokens(r.result->body.size())};
  out.cost = routing::callCost(m, usage);
  auto view = routing::parseAnswer(r.result->body);
  if (!view) {
    out.error = view.error().message;
    co_return out;
  }
  out.text = std::move(view->text);
  co_return out;
}

// The judge's reply about one answer (routing::judgePrompt, as the cascade's judge check).
asio::awaitable<ModelReply> askJudge(const Services& s, const config::ModelConfig& judge, std::string_view ask,
                                     std::string_view answer) {
  api::ChatRequest jreq;
  jreq.model = judge.id;
  const std::string prompt = routing::judgePrompt(ask, answer);
  jreq.messages.push_back(api::ChatMessage{"user", prompt});
  jreq.content_chars = prompt.size();
  upstream::ChatCall jcall;
  jcall.request = &jreq;
  jcall.model_id = judge.id;
  jcall.body = fmt::format(R"({{"model":{},"messages":[{{"role":"user","content":{}}}],"temperature":0,"stream":false}})",
                           jsonString(judge.id), jsonString(prompt));
  ModelReply r = co_await askModel(s, judge, jcall, jreq);
  co_return r;
}

}  // namespace

ShadowRunner::ShadowRunner(Options opts, ExecutorFn executor, ShadowSampler& sampler)
    : opts_(opts), executor_(std::move(executor)), sampler_(sampler), queue_(opts.queue) {}

void ShadowRunner::count(const Services& s, std::string_view route, std::string_view model, std::string_view result) {
  if (s.metrics) s.metrics->shadow->labels({route, model, result}).inc();
}

void ShadowRunner::sample(RequestContext& ctx) const {
  if (!ctx.route || !ctx.route->route || !ctx.route->route->shadow) return;
  ctx.info.shadow = sampler_.roll(ctx.route->route->shadow->sample);
}

void ShadowRunner::offer(RequestContext& ctx, const Services& s) {
  RequestInfo& info = ctx.info;
  if (!info.shadow || info.status != 200 || !info.chosen || !ctx.route || !ctx.route->route->shadow) return;
  const config::ShadowConfig& sc = *ctx.route->route->shadow;
  auto y = s.cfg->models.find(sc.model);
  if (y == s.cfg->models.end() || y->second.name == info.chosen->name) return;  // the yardstick served: nothing to compare
  const config::ModelConfig* judge = nullptr;
  if (sc.grade.kind == config::ShadowGradeConfig::Kind::kJudge) {
    auto j = s.cfg->models.find(sc.grade.judge_model);
    if (j == s.cfg->models.end()) return;
    judge = &j->second;
  }
  offered_.fetch_add(1, std::memory_order_relaxed);
  const std::string& model = info.chosen->name;
  if (info.sensitive && (isRemote(*s.cfg, y->second) || (judge && isRemote(*s.cfg, *judge)))) {
    // Privacy: a sensitive request's ask and answer never leave for a remote model.
    skipped_sensitive_.fetch_add(1, std::memory_order_relaxed);
    count(s, info.route, model, "skipped_sensitive");
    return;
  }
  if (!sampler_.underCap(info.route, sc.usd_per_day)) {
    over_budget_.fetch_add(1, std::memory_order_relaxed);
    count(s, info.route, model, "over_budget");
    return;
  }
  auto job = std::make_unique<ShadowJob>();
  job->hold = s.hold ? s.hold() : nullptr;
  job->services = &s;
  job->shadow = &sc;
  job->extract = ctx.route->shadow_extract ? &*ctx.route->shadow_extract : nullptr;
  job->served = info.chosen;
  job->yardstick = &y->second;
  job->judge = judge;
  job->time = info.arrived;
  job->request_id = info.request_id;
  job->route = info.route;
  job->body = ctx.req.body();
  job->chat = ctx.chat;
  job->ask = ctx.ask();
  job->answer = std::move(info.answer);
  job->sensitive = info.sensitive;
  bool spawn = false;
  bool queued = false;
  {
    std::lock_guard lk(mu_);
    if (!stopped_) queued = queue_.push(std::move(job));
    if (queued && workers_ < opts_.workers) {
      ++workers_;
      spawn = true;
    }
  }
  if (!queued) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    count(s, info.route, model, "dropped");
    // Logged at debug: a full queue under load would fill the log; the counter tells.
    spdlog::debug("[{}] shadow: queue full or stopped; dropped", info.request_id);
    return;
  }
  queued_.fetch_add(1, std::memory_order_relaxed);
  if (spawn) asio::co_spawn(executor_(), work(), asio::detached);
}

asio::awaitable<void> ShadowRunner::work() {
  for (;;) {
    std::unique_ptr<ShadowJob> job;
    {
      std::lock_guard lk(mu_);
      if (!stopped_) job = queue_.pop();
      if (!job) {
        --workers_;
        co_return;
      }
      ++running_;
    }
    co_await run(*job);
    {
      std::lock_guard lk(mu_);
      --running_;
    }
  }
}

asio::awaitable<void> ShadowRunner::run(ShadowJob& job) {
  const Services& s = *job.services;
  const config::ShadowConfig& sc = *job.shadow;
  const std::string& model = job.served->name;
  // Checked again: the jobs ahead of this one may have spent the day's cap.
  if (!sampler_.underCap(job.route, sc.usd_per_day)) {
    over_budget_.fetch_add(1, std::memory_order_relaxed);
    count(s, job.route, model, "over_budget");
    co_return;
  }
  api::Rewrite rw;
  rw.model_id = job.yardstick->id;
  rw.force_non_stream = true;
  auto body = api::rewriteChatRequest(job.body, rw);
  ShadowVerdict v;
  Nanos cost = 0, yardstick_cost = 0;
  std::string yard_answer;
  if (!body) {
    v = ShadowVerdict{"error", -1, -1, body.error().message};
  } else {
    upstream::ChatCall call;
    call.request = &job.chat;
    call.model_id = job.yardstick->id;
    call.body = std::move(*body);
    ModelReply yard = co_await askModel(s, *job.yardstick, call, job.chat);
    cost += yard.cost;
    yardstick_cost = yard.cost;
    if (yard.text) yard_answer = *yard.text;
    if (!yard.text) {
      v = ShadowVerdict{"error", -1, -1, "yardstick: " + yard.error};
    } else if (sc.grade.kind == config::ShadowGradeConfig::Kind::kAgree) {
      if (job.extract) v = gradeAgree(*job.extract, job.answer, *yard.text);
      else v = ShadowVerdict{"error", -1, -1, "no extractor"};
    } else {
      ModelReply js = co_await askJudge(s, *job.judge, job.ask, job.answer);
      cost += js.cost;
      ModelReply jy = co_await askJudge(s, *job.judge, job.ask, *yard.text);
      cost += jy.cost;
      if (!js.text || !jy.text) v = ShadowVerdict{"error", -1, -1, "judge: " + (js.text ? jy.error : js.error)};
      else v = gradeJudge(*js.text, *jy.text);
    }
  }
  sampler_.spend(job.route, cost);
  {
    std::lock_guard lk(mu_);
    if (stopped_) co_return;  // counted as dropped at the drain deadline
  }
  graded_.fetch_add(1, std::memory_order_relaxed);
  count(s, job.route, model, v.result);
  if (s.metrics && cost > 0) s.metrics->shadow_spend_usd->labels({job.route, model}).inc(nanosToUsd(cost));
  if (v.result == "error") spdlog::info("[{}] shadow of {} against {}: {}", job.request_id, model, job.yardstick->name, v.error);
  if (!s.recorder) co_return;
  ledger::ShadowGradeRecord g;
  g.time = job.time;
  g.request_id = std::move(job.request_id);
  g.route = job.route;
  g.model = model;
  g.yardstick = job.yardstick->name;
  g.result = std::move(v.result);
  g.served_score = v.served_score;
  g.yardstick_score = v.yardstick_score;
  g.cost_nanos = cost;
  g.yardstick_cost_nanos = yardstick_cost;
  if (!job.sensitive) {  // stored whatever store_prompts says (docs/shadow.md)
    g.prompt = std::move(job.ask);
    g.served_answer = std::move(job.answer);
    g.yardstick_answer = std::move(yard_answer);
  }
  g.error = std::move(v.error);
  s.recorder->recordShadow(std::move(g));
}

size_t ShadowRunner::pending() const {
  std::lock_guard lk(mu_);
  return queue_.size() + running_;
}

size_t ShadowRunner::stop() {
  size_t running = 0;
  {
    std::lock_guard lk(mu_);
    if (stopped_) return 0;
    stopped_ = true;
    running = running_;
  }
  const size_t dropped = queue_.clear() + running;
  dropped_.fetch_add(dropped, std::memory_order_relaxed);
  return dropped;
}

ShadowRunner::Counts ShadowRunner::counts() const {
  Counts c;
  c.offered = offered_.load(std::memory_order_relaxed);
  c.queued = queued_.load(std::memory_order_relaxed);
  c.graded = graded_.load(std::memory_order_relaxed);
  c.dropped = dropped_.load(std::memory_order_relaxed);
  c.skipped_sensitive = skipped_sensitive_.load(std::memory_order_relaxed);
  c.over_budget = over_budget_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace rightsize::pipeline
