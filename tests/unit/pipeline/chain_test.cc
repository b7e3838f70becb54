// The chat chain as registered (makeChatChain), end to end over fake providers: stage order,
// what stops where, what is called, and that accounting happens exactly once on every exit path.
#include <gtest/gtest.h>

#include "pipeline_fakes.h"

namespace rightsize::pipeline {
namespace {

using namespace testing;

TEST(ChatChain, RunsTheStagesInTheirRegisteredOrder) {
  Fixture f;
  Chain chain = makeChatChain(f.s);
  const std::vector<std::string_view> expected = {"auth",   "shape", "route",    "privacy",
                                                  "decide", "admit", "dispatch", "account"};
  EXPECT_EQ(chain.names(), expected);
}

TEST(ChatChain, AnswersAndAccountsOnce) {
  Fixture f;
  Chain chain = makeChatChain(f.s);
  OneRequest r(chatBody("auto"));
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(r.sink.status, 200);
  EXPECT_NE(r.sink.body.find("hello"), std::string::npos);
  EXPECT_NE(r.sink.head.find("x-rightsize-model: small"), std::string::npos);
  EXPECT_EQ(f.fake["remote"]->called, std::vector<std::string>{"small-id"});
  EXPECT_EQ(f.keys.settles, 1);
  EXPECT_TRUE(f.keys.settled_success);
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  EXPECT_EQ(f.recorder.rows[0].status, 200);
  EXPECT_EQ(f.recorder.rows[0].attempts, 1);
  EXPECT_EQ(f.recorder.rows[0].tokens_in, 10);
}

TEST(ChatChain, AuthRefusesBeforeTheBodyIsEvenParsed) {
  Fixture f;
  Chain chain = makeChatChain(f.s);
  OneRequest r("{not json", false);
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(r.sink.status, 401);  // not 400: auth runs first
  EXPECT_EQ(calls(f), 0);
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  EXPECT_EQ(f.recorder.rows[0].status, 401);
}

TEST(ChatChain, PrivacyBlocksBeforeAnyUpstreamCall) {
  Fixture f;
  Chain chain = makeChatChain(f.s);
  OneRequest r(chatBody("remote_only", R"(,"rightsize":{"sensitive":true})"));
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(r.sink.status, 403);
  EXPECT_EQ(calls(f), 0);
  EXPECT_EQ(f.keys.admits, 0);  // and before admission: nothing reserved for a refused request
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  EXPECT_EQ(f.recorder.rows[0].status, 403);
  EXPECT_TRUE(f.recorder.rows[0].sensitive);
}

TEST(ChatChain, AdmissionRefusesBeforeDispatch) {
  Fixture f;
  f.keys.admit_ok = false;
  Chain chain = makeChatChain(f.s);
  OneRequest r(chatBody("auto"));
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(r.sink.status, 429);
  EXPECT_EQ(f.keys.admits, 1);
  EXPECT_EQ(calls(f), 0);
  EXPECT_EQ(f.keys.settles, 0);  // nothing was reserved
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  EXPECT_EQ(f.recorder.rows[0].status, 429);
}

TEST(ChatChain, RetriesThenFallsBackAndCountsEveryAttempt) {
  Fixture f;
  Chain chain = makeChatChain(f.s);
  // small: 500 twice (its provider allows 2 attempts, and opens after 3 failures); big answers.
  f.fake["remote"]->script = {failWith(500), failWith(500), answer("from big")};
  OneRequest r(chatBody("auto"));
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(r.sink.status, 200);
  EXPECT_EQ(f.fake["remote"]->called, (std::vector<std::string>{"small-id", "small-id", "big-id"}));
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  EXPECT_EQ(f.recorder.rows[0].attempts, 3);
  EXPECT_EQ(f.recorder.rows[0].model, "big");
}

TEST(ChatChain, ACascadesEveryAttemptIsAccountedFor) {
  Fixture f;
  Chain chain = makeChatChain(f.s);
  // small refuses (fails not_refusal), big answers.
  f.fake["remote"]->script = {answer("I can't help with that."), answer("4")};
  OneRequest r(chatBody("cascade"));
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(r.sink.status, 200);
  EXPECT_EQ(f.fake["remote"]->called, (std::vector<std::string>{"small-id", "big-id"}));
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  const auto& row = f.recorder.rows[0];
  EXPECT_EQ(row.attempts, 2);
  EXPECT_EQ(row.model, "big");
  // Both answers are in attempts_detail, and both are paid for: big's usage plus small's.
  EXPECT_NE(row.attempts_detail.find(R"("model":"small")"), std::string::npos);
  EXPECT_NE(row.attempts_detail.find(R"("model":"big")"), std::string::npos);
  const int64_t small_nanos = 10 * 1'000 + 5 * 2'000;   // 10 in @ $1/M, 5 out @ $2/M
  const int64_t big_nanos = 10 * 10'000 + 5 * 20'000;
  EXPECT_EQ(row.cost_nanos, small_nanos + big_nanos);
  EXPECT_EQ(f.keys.settles, 1);
  EXPECT_EQ(f.keys.settled_cost, small_nanos + big_nanos);
}

// Settlement and the ledger row: exactly once whatever way the request ends.
enum class Exit { kAnswered, kUpstreamError, kBrokenStream, kClientGone, kCancelled };

class ChatChainExit : public ::testing::TestWithParam<Exit> {};

TEST_P(ChatChainExit, SettlesAndRecordsExactlyOnce) {
  Fixture f;
  Chain chain = makeChatChain(f.s);
  const Exit exit = GetParam();
  const bool stream = exit == Exit::kBrokenStream || exit == Exit::kClientGone;
  OneRequest r(chatBody("remote_only", stream ? R"(,"stream":true)" : ""));
  auto& remote = *f.fake["remote"];
  switch (exit) {
    case Exit::kAnswered: break;
    case Exit::kUpstreamError: remote.script = {failWith(503), failWith(503)}; break;
    case Exit::kBrokenStream: remote.script = {streamBreaks()}; break;
    case Exit::kClientGone: r.sink.gone_after_chunks = 1; break;
    case Exit::kCancelled: remote.script = {hang()}; break;
  }
  r.sink.watch = &f.keys.settles;
  {
    asio::io_context io;
    asio::co_spawn(io, chain.run(r.ctx), asio::detached);
    io.poll();
    if (exit == Exit::kCancelled) {
      EXPECT_EQ(remote.called.size(), 1u);     // the call went out and hangs
      EXPECT_EQ(f.keys.settles, 0);            // not settled while in flight
      EXPECT_TRUE(f.recorder.rows.empty());
    }
  }  // the io_context is destroyed: a suspended request's coroutine is destroyed with it
  EXPECT_EQ(f.keys.settles, 1);
  // An answer that reached its end was settled before its last bytes went out, so the client's
  // next request is admitted against the real usage, not this one's estimate.
  if (exit == Exit::kAnswered || exit == Exit::kUpstreamError || exit == Exit::kBrokenStream) {
    EXPECT_EQ(r.sink.watched_at_end, 1);
  }
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  const auto& row = f.recorder.rows[0];
  switch (exit) {
    case Exit::kAnswered: EXPECT_EQ(row.status, 200); EXPECT_TRUE(f.keys.settled_success); break;
    case Exit::kUpstreamError: EXPECT_EQ(row.status, 502); EXPECT_FALSE(f.keys.settled_success); break;
    case Exit::kBrokenStream:
      EXPECT_EQ(row.status, 200);
      EXPECT_NE(row.error.find("upstream stream failed"), std::string::npos);
      break;
    case Exit::kClientGone: EXPECT_EQ(row.error, "client went away mid-stream"); break;
    case Exit::kCancelled: EXPECT_EQ(row.status, 0); EXPECT_FALSE(f.keys.settled_success); break;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryExitPath, ChatChainExit,
                         ::testing::Values(Exit::kAnswered, Exit::kUpstreamError, Exit::kBrokenStream,
                                           Exit::kClientGone, Exit::kCancelled));

TEST(ChatChain, ACancelledProbeHandsTheCircuitBack) {
  // The breaker's contract through the whole path: a request cancelled while its half-open
  // probe is in flight leaves the circuit probing again, not stuck.
  Fixture f;
  Chain chain = makeChatChain(f.s);
  auto& breaker = *f.s.providers.at("remote").breaker;
  f.fake["remote"]->script = {failWith(500), failWith(500), failWith(500)};
  for (int i = 0; i < 2; ++i) {  // 3 consecutive failures open it
    OneRequest r(chatBody("remote_only"));
    asio::io_context io;
    runOn(io, chain.run(r.ctx));
  }
  ASSERT_EQ(breaker.state(), upstream::CircuitBreaker::State::kOpen);
  f.clock.now += std::chrono::milliseconds(1000);
  f.fake["remote"]->script = {hang()};
  {
    OneRequest r(chatBody("remote_only"));
    asio::io_context io;
    asio::co_spawn(io, chain.run(r.ctx), asio::detached);
    io.poll();
    EXPECT_FALSE(breaker.available());  // the probe is out
  }
  EXPECT_EQ(breaker.state(), upstream::CircuitBreaker::State::kHalfOpen);
  EXPECT_TRUE(breaker.available());
}

}  // namespace
}  // namespace rightsize::pipeline
