// Shadow evaluation (pipeline/shadow.h, docs/shadow.md): the sampler and its daily cap, the
// bounded queue, the grades, and the runner behind the chat chain over fake providers — the
// client is answered before (and whatever) the shadow does; overflow, privacy and the cap counted.
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/shadow.h"
#include "routing/cost_estimate.h"
#include "pipeline_fakes.h"

namespace rightsize::pipeline {
namespace {

using namespace testing;
using SysClock = std::chrono::system_clock;

constexpr int64_t kNov22Us = 1'795'305'600'000'000;  // 2026-11-22T00:00:00Z

SysClock::time_point at(int64_t us) { return ledger::fromEpochMicros(us); }

TEST(ShadowSampler, SampleRateIsWithinBinomialBoundsWithAFixedSeed) {
  ShadowSampler s(42);
  const int n = 20000;
  for (double share : {0.05, 0.5}) {
    int hits = 0;
    for (int i = 0; i < n; ++i) hits += s.roll(share) ? 1 : 0;
    const double mean = n * share, sd = std::sqrt(n * share * (1 - share));
    EXPECT_LT(std::abs(hits - mean), 4 * sd) << "share " << share << ": " << hits;
  }
  int always = 0, never = 0;
  for (int i = 0; i < 100; ++i) {
    always += s.roll(1.0) ? 1 : 0;
    never += s.roll(0.0) ? 1 : 0;
  }
  EXPECT_EQ(always, 100);
  EXPECT_EQ(never, 0);
}

TEST(ShadowSampler, TheSameSeedRollsTheSameDice) {
  ShadowSampler a(7), b(7);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.roll(0.3), b.roll(0.3));
}

TEST(ShadowSampler, CapStopsSamplingUntilTheNextUtcDay) {
  int64_t now = kNov22Us + 23 * 3'600'000'000LL;  // 23:00 UTC
  ShadowSampler s(1, [&] { return at(now); });
  const Nanos cap = 1000;
  EXPECT_TRUE(s.underCap("auto", cap));
  s.spend("auto", 600);
  EXPECT_TRUE(s.underCap("auto", cap));
  s.spend("auto", 400);
  EXPECT_FALSE(s.underCap("auto", cap));   // exactly at the cap: over
  EXPECT_TRUE(s.underCap("other", cap));   // per route
  EXPECT_EQ(s.spentToday("auto"), 1000);
  now += 3'599'000'000LL;                  // 23:59:59: same day
  EXPECT_FALSE(s.underCap("auto", cap));
  now += 1'000'000;                        // 00:00:00 the next day
  EXPECT_TRUE(s.underCap("auto", cap));
  EXPECT_EQ(s.spentToday("auto"), 0);
  EXPECT_FALSE(s.underCap("auto", 0));     // a zero cap allows nothing
}

TEST(ShadowQueue, OverflowIsRefusedAndTheQueueKeepsItsOrder) {
  ShadowQueue q(2);
  auto job = [](const char* id) {
    auto j = std::make_unique<ShadowJob>();
    j->request_id = id;
    return j;
  };
  EXPECT_TRUE(q.push(job("a")));
  EXPECT_TRUE(q.push(job("b")));
  EXPECT_FALSE(q.push(job("c")));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.pop()->request_id, "a");
  EXPECT_TRUE(q.push(job("d")));
  EXPECT_EQ(q.clear(), 2u);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(ShadowGrade, AgreeComparesTheExtractedValues) {
  auto json = *routing::Extractor::parse("json:answer");
  EXPECT_EQ(gradeAgree(json, R"({"answer": "Paris"})", R"(sure: {"answer":"paris"})").result, "agree");
  EXPECT_EQ(gradeAgree(json, R"({"answer": "Lyon"})", R"({"answer":"Paris"})").result, "disagree");
  EXPECT_EQ(gradeAgree(json, "no json here", R"({"answer":"Paris"})").result, "disagree");
  ShadowVerdict e = gradeAgree(json, R"({"answer": "Paris"})", "the yardstick said nothing useful");
  EXPECT_EQ(e.result, "error");
  EXPECT_NE(e.error.find("yardstick"), std::string::npos);
  auto number = *routing::Extractor::parse("number");
  EXPECT_EQ(gradeAgree(number, "It is 4.", "The answer is $4.0").result, "agree");
}

TEST(ShadowGrade, JudgeScoresBothAnswersAndGarbageIsAnError) {
  ShadowVerdict v = gradeJudge("7", "10/10");
  EXPECT_EQ(v.result, "scored");
  EXPECT_DOUBLE_EQ(v.served_score, 0.7);
  EXPECT_DOUBLE_EQ(v.yardstick_score, 1.0);
  EXPECT_EQ(gradeJudge("seven", "9").result, "error");
  EXPECT_EQ(gradeJudge("8", "I think 9").result, "error");
  EXPECT_EQ(gradeJudge("8", "I think 9").served_score, -1);
}

TEST(ShadowGrade, StreamChunksAddUpToTheAnswerText) {
  std::string out;
  appendDeltaText(out, R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})");
  appendDeltaText(out, R"({"choices":[{"index":0,"delta":{"content":"he"}}]})");
  appendDeltaText(out, R"({"choices":[{"index":0,"delta":{"content":"llo \"x\""}}]})");
  appendDeltaText(out, R"({"choices":[],"usage":{"prompt_tokens":1}})");
  appendDeltaText(out, "not json \"content\"");
  EXPECT_EQ(out, "hello \"x\"");
}

// The fixture's config plus shadowed routes over the same fakes.
std::string shadowConfig(const std::string& cap = "1") {
  return std::string(kConfig) + R"(  shadowed:
    policy: fixed
    candidates: [small]
    shadow: {sample: 1, model: big, grade: {kind: agree, extract: text}, usd_per_day: )" + cap + R"(}
  judged:
    policy: fixed
    candidates: [small]
    shadow: {sample: 1, model: big, grade: {kind: judge, model: onprem}, usd_per_day: 1}
  private_shadow:
    policy: fixed
    candidates: [onprem]
    shadow: {sample: 1, model: big, grade: {kind: agree}, usd_per_day: 1}
  never:
    policy: fixed
    candidates: [small]
    shadow: {sample: 0, model: big, grade: {kind: agree}, usd_per_day: 1}
)";
}

double shadowCount(Fixture& f, const std::string& route, const std::string& model, const std::string& result) {
  return f.metrics->shadow->labels({route, model, result}).value();
}

// Runs the chain for `r` on `io` until the client's answer is complete, not waiting for the shadow.
void answerClient(asio::io_context& io, Chain& chain, OneRequest& r) {
  bool done = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    co_await chain.run(r.ctx);
    done = true;
  }, asio::detached);
  while (!done && io.run_one() > 0) {}
  io.restart();
}

struct ShadowFixture {
  Fixture f;
  ShadowSampler sampler{1};
  asio::io_context io;
  ShadowRunner runner;
  Chain chain;
  explicit ShadowFixture(const std::string& yaml = shadowConfig(), size_t queue = 8, size_t workers = 2)
      : f(false, yaml), runner(ShadowRunner::Options{queue, workers}, [this] { return io.get_executor(); }, sampler),
        chain((f.s.shadow = &runner, makeChatChain(f.s))) {}
};

TEST(ShadowRunner, AgreeingYardstickIsGradedAfterTheClientsAnswer) {
  ShadowFixture sf;
  OneRequest r(chatBody("shadowed"), false);
  answerClient(sf.io, sf.chain, r);
  EXPECT_EQ(r.sink.status, 200);  // answered; the shadow (below) may or may not have run yet
  sf.io.run();
  sf.io.restart();
  ASSERT_EQ(sf.f.recorder.shadows.size(), 1u);
  const ledger::ShadowGradeRecord& g = sf.f.recorder.shadows[0];
  EXPECT_EQ(g.request_id, "req-1");
  EXPECT_EQ(g.route, "shadowed");
  EXPECT_EQ(g.model, "small");
  EXPECT_EQ(g.yardstick, "big");
  EXPECT_EQ(g.result, "agree");  // both fakes say "hello"
  EXPECT_EQ(g.cost_nanos, routing::callCost(sf.f.s.cfg->models.at("big"), api::Usage{10, 5}));
  EXPECT_EQ(g.prompt, "What is 2+2?");  // stored whatever store_prompts says
  EXPECT_EQ(sf.f.fake["remote"]->called, (std::vector<std::string>{"small-id", "big-id"}));
  EXPECT_EQ(shadowCount(sf.f, "shadowed", "small", "agree"), 1);
  EXPECT_EQ(sf.sampler.spentToday("shadowed"), g.cost_nanos);
  // The request's own row is not charged for the shadow.
  ASSERT_EQ(sf.f.recorder.rows.size(), 1u);
  EXPECT_EQ(sf.f.recorder.rows[0].cost_nanos, routing::callCost(sf.f.s.cfg->models.at("small"), api::Usage{10, 5}));
}

TEST(ShadowRunner, StreamedAnswersAreShadowedAndDisagreementsGraded) {
  ShadowFixture sf;
  sf.f.fake["remote"]->script_by_model["big-id"] = {answer("goodbye")};
  OneRequest r(chatBody("shadowed", R"(,"stream":true)"), false);
  answerClient(sf.io, sf.chain, r);
  EXPECT_TRUE(r.sink.ended);
  sf.io.run();
  ASSERT_EQ(sf.f.recorder.shadows.size(), 1u);
  EXPECT_EQ(sf.f.recorder.shadows[0].result, "disagree");  // streamed "hello" vs "goodbye"
}

TEST(ShadowRunner, AHangingYardstickNeverHoldsTheClient) {
  ShadowFixture sf;
  sf.f.fake["remote"]->script_by_model["big-id"] = {hang()};
  OneRequest r(chatBody("shadowed"), false);
  answerClient(sf.io, sf.chain, r);
  EXPECT_EQ(r.sink.status, 200);
  EXPECT_EQ(sf.f.recorder.rows.size(), 1u);  // the request is accounted
  sf.io.poll();
  EXPECT_EQ(sf.runner.pending(), 1u);         // the shadow still waits on the yardstick
  EXPECT_EQ(sf.runner.stop(), 1u);            // the drain deadline drops it
  EXPECT_EQ(sf.runner.counts().dropped, 1u);
  EXPECT_TRUE(sf.f.recorder.shadows.empty());
}

TEST(ShadowRunner, AFullQueueDropsAndCounts) {
  ShadowFixture sf(shadowConfig(), /*queue=*/1, /*workers=*/1);
  sf.f.fake["remote"]->script_by_model["big-id"] = {hang(), hang(), hang()};
  for (const char* id : {"a", "b", "c", "d"}) {
    OneRequest r(chatBody("shadowed"), false, id);
    answerClient(sf.io, sf.chain, r);
    EXPECT_EQ(r.sink.status, 200);
    sf.io.poll();  // the worker takes the first job and hangs on it
    sf.io.restart();
  }
  // a: running; b: waiting; c, d: dropped.
  EXPECT_EQ(sf.runner.counts().dropped, 2u);
  EXPECT_EQ(shadowCount(sf.f, "shadowed", "small", "dropped"), 2);
  EXPECT_EQ(sf.runner.pending(), 2u);
  EXPECT_EQ(sf.runner.stop(), 2u);
  EXPECT_EQ(sf.runner.stop(), 0u);  // idempotent
}

TEST(ShadowRunner, OverTheDailyCapNothingMoreIsSent) {
  ShadowFixture sf(shadowConfig("0.00000002"));  // 20 nano-dollars: one yardstick call spends it
  for (const char* id : {"a", "b", "c"}) {
    OneRequest r(chatBody("shadowed"), false, id);
    answerClient(sf.io, sf.chain, r);
    sf.io.run();
    sf.io.restart();
  }
  EXPECT_EQ(sf.f.recorder.shadows.size(), 1u);
  EXPECT_EQ(shadowCount(sf.f, "shadowed", "small", "over_budget"), 2);
  int yardstick_calls = 0;
  for (const auto& id : sf.f.fake["remote"]->called) yardstick_calls += id == "big-id";
  EXPECT_EQ(yardstick_calls, 1);
}

TEST(ShadowRunner, SensitiveRequestsNeverReachARemoteYardstick) {
  ShadowFixture sf;
  OneRequest r(chatBody("private_shadow"), false);
  r.req.set("x-rightsize-sensitive", "1");
  answerClient(sf.io, sf.chain, r);
  sf.io.run();
  EXPECT_EQ(r.sink.status, 200);
  EXPECT_TRUE(sf.f.fake["remote"]->called.empty());
  EXPECT_TRUE(sf.f.recorder.shadows.empty());
  EXPECT_EQ(shadowCount(sf.f, "private_shadow", "onprem", "skipped_sensitive"), 1);
}

TEST(ShadowRunner, JudgeScoresBothAnswersAndGarbageIsAnError) {
  ShadowFixture sf;
  sf.f.fake["local"]->script_by_model["onprem-id"] = {answer("6"), answer("9")};
  {
    OneRequest r(chatBody("judged"), false, "a");
    answerClient(sf.io, sf.chain, r);
    sf.io.run();
    sf.io.restart();
  }
  ASSERT_EQ(sf.f.recorder.shadows.size(), 1u);
  EXPECT_EQ(sf.f.recorder.shadows[0].result, "scored");
  EXPECT_DOUBLE_EQ(sf.f.recorder.shadows[0].served_score, 0.6);
  EXPECT_DOUBLE_EQ(sf.f.recorder.shadows[0].yardstick_score, 0.9);
  sf.f.fake["local"]->script_by_model["onprem-id"] = {answer("good"), answer("9")};
  {
    OneRequest r(chatBody("judged"), false, "b");
    answerClient(sf.io, sf.chain, r);
    sf.io.run();
  }
  ASSERT_EQ(sf.f.recorder.shadows.size(), 2u);
  EXPECT_EQ(sf.f.recorder.shadows[1].result, "error");
  EXPECT_EQ(shadowCount(sf.f, "judged", "small", "error"), 1);
}

TEST(ShadowRunner, UnsampledRoutesAndFailedRequestsAreNotShadowed) {
  ShadowFixture sf;
  {
    OneRequest r(chatBody("never"), false);
    answerClient(sf.io, sf.chain, r);
    sf.io.run();
    sf.io.restart();
  }
  sf.f.fake["remote"]->script_by_model["small-id"] = {failWith(400)};
  {
    OneRequest r(chatBody("shadowed"), false, "bad");
    answerClient(sf.io, sf.chain, r);
    sf.io.run();
    EXPECT_EQ(r.sink.status, 400);
  }
  EXPECT_TRUE(sf.f.recorder.shadows.empty());
  EXPECT_EQ(sf.runner.counts().offered, 0u);
}

}  // namespace
}  // namespace rightsize::pipeline
