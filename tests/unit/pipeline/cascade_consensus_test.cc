// Staged cascades (cascade.stages) through the registered chat chain over fake providers: an
// agree stage's models are all asked, the consensus decides, every call is paid and recorded.
#include <gtest/gtest.h>

#include "pipeline/chat_chain.h"
#include "pipeline_fakes.h"

namespace rightsize::pipeline {
namespace {

using namespace testing;

constexpr int64_t kSmallNanos = 10 * 1'000 + 5 * 2'000;  // 10 in @ $1/M, 5 out @ $2/M
constexpr int64_t kBigNanos = 10 * 10'000 + 5 * 20'000;

const ledger::LedgerRecord& runOne(Fixture& f, OneRequest& r) {
  Chain chain = makeChatChain(f.s);
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(f.recorder.rows.size(), 1u);
  return f.recorder.rows.back();
}

TEST(StagedCascade, AgreeingCheapModelsAnswerAndTheCheapestOfThemIsSent) {
  Fixture f;
  f.fake["local"]->script_by_model["onprem-id"] = {answer("4")};
  f.fake["remote"]->script_by_model["small-id"] = {answer("The answer is 4.0")};
  OneRequest r(chatBody("consensus"));
  const auto& row = runOne(f, r);
  EXPECT_EQ(r.sink.status, 200);
  EXPECT_NE(r.sink.body.find(R"("content":"4")"), std::string::npos) << r.sink.body;
  EXPECT_EQ(row.model, "onprem");
  EXPECT_EQ(row.attempts, 2);
  EXPECT_EQ(f.fake["remote"]->called, std::vector<std::string>{"small-id"});  // big never asked
  EXPECT_EQ(row.cost_nanos, kSmallNanos);  // onprem is free; small's agreeing answer is paid for
  EXPECT_NE(row.attempts_detail.find(R"("model":"onprem","result":"accepted")"), std::string::npos) << row.attempts_detail;
  EXPECT_NE(row.attempts_detail.find(R"("model":"small","result":"answered")"), std::string::npos) << row.attempts_detail;
}

TEST(StagedCascade, DisagreementEscalatesAndEveryCallIsPaid) {
  Fixture f;
  f.fake["local"]->script_by_model["onprem-id"] = {answer("4")};
  f.fake["remote"]->script_by_model["small-id"] = {answer("5")};
  f.fake["remote"]->script_by_model["big-id"] = {answer("four: 4")};
  OneRequest r(chatBody("consensus"));
  const auto& row = runOne(f, r);
  EXPECT_EQ(r.sink.status, 200);
  EXPECT_NE(r.sink.body.find("four: 4"), std::string::npos);
  EXPECT_EQ(row.model, "big");
  EXPECT_EQ(row.attempts, 3);
  EXPECT_EQ(row.cost_nanos, kSmallNanos + kBigNanos);
  EXPECT_NE(row.attempts_detail.find(R"("model":"big","result":"accepted")"), std::string::npos) << row.attempts_detail;
}

TEST(StagedCascade, AllAbstainingEscalates) {
  Fixture f;
  f.fake["local"]->script_by_model["onprem-id"] = {answer("no idea")};
  f.fake["remote"]->script_by_model["small-id"] = {answer("it depends")};
  f.fake["remote"]->script_by_model["big-id"] = {answer("4")};
  OneRequest r(chatBody("consensus"));
  const auto& row = runOne(f, r);
  EXPECT_EQ(row.model, "big");
  EXPECT_NE(row.attempts_detail.find(R"("result":"no_vote")"), std::string::npos) << row.attempts_detail;
}

TEST(StagedCascade, AModelDownDoesNotVoteAndTheOthersAnswersAreKept) {
  Fixture f;
  // vote3: one stage of all three, min_votes 1. onprem is down; small and big disagree: a tie
  // between groups of one goes to the cheapest answer, small's.
  f.fake["local"]->script_by_model["onprem-id"] = {failWith(500)};
  f.fake["remote"]->script_by_model["small-id"] = {answer("1")};
  f.fake["remote"]->script_by_model["big-id"] = {answer("2")};
  OneRequest r(chatBody("vote3"));
  const auto& row = runOne(f, r);
  EXPECT_EQ(r.sink.status, 200);
  EXPECT_EQ(row.model, "small");
  EXPECT_EQ(row.attempts, 3);
  EXPECT_EQ(row.cost_nanos, kSmallNanos + kBigNanos);
  EXPECT_NE(row.attempts_detail.find(R"("model":"onprem","result":"error")"), std::string::npos) << row.attempts_detail;
}

TEST(StagedCascade, TieGoesToTheGroupWithTheCheapestAnswer) {
  Fixture f;
  f.fake["local"]->script_by_model["onprem-id"] = {answer("7")};
  f.fake["remote"]->script_by_model["small-id"] = {answer("8")};
  f.fake["remote"]->script_by_model["big-id"] = {answer("no number")};
  OneRequest r(chatBody("vote3"));
  const auto& row = runOne(f, r);
  EXPECT_EQ(row.model, "onprem");
  EXPECT_NE(r.sink.body.find(R"("content":"7")"), std::string::npos);
}

TEST(StagedCascade, OneDownInAPairEscalatesToTheLastStage) {
  Fixture f;
  f.fake["local"]->script_by_model["onprem-id"] = {failWith(503)};
  f.fake["remote"]->script_by_model["small-id"] = {answer("4")};
  f.fake["remote"]->script_by_model["big-id"] = {answer("4")};
  OneRequest r(chatBody("consensus"));
  const auto& row = runOne(f, r);
  EXPECT_EQ(row.model, "big");
  EXPECT_EQ(row.attempts, 3);
}

TEST(StagedCascade, AStreamingClientGetsTheAcceptedAnswerAsSse) {
  Fixture f;
  f.fake["local"]->script_by_model["onprem-id"] = {answer("42")};
  f.fake["remote"]->script_by_model["small-id"] = {answer("42")};
  OneRequest r(chatBody("consensus", R"(,"stream":true)"));
  const auto& row = runOne(f, r);
  EXPECT_EQ(row.model, "onprem");
  std::string all;
  for (const auto& c : r.sink.chunks) all += c;
  EXPECT_NE(all.find(R"("content":"42")"), std::string::npos) << all;
  EXPECT_TRUE(r.sink.ended);
}

}  // namespace
}  // namespace rightsize::pipeline
