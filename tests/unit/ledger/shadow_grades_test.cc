// Shadow grades in the ledger (docs/shadow.md): the SQLite round trip, the writer, the report's
// quality estimate with its 95% interval, and the arithmetic behind it.

#include <gtest/gtest.h>

#include "ledger/outcome_export.h"
#include "ledger/report.h"
#include "ledger/shadow_quality.h"
#include "ledger/sqlite_sink.h"
#include "ledger/writer.h"
#include "ledger_test_util.h"

namespace rightsize::ledger {
namespace {

using testing::sampleRecord;
using testing::TempDir;

ShadowGradeRecord grade(int i, std::string result, double served = -1, double yard = -1) {
  ShadowGradeRecord g;
  g.time = fromEpochMicros(1'700'000'000'000'000 + i * 1000 + 7);
  g.request_id = fmt::format("req-{:06}", i);
  g.route = i % 2 ? "chat" : "extract";
  g.model = i % 4 ? "llama-3.1-8b" : "gpt-4o";
  g.yardstick = "gpt-4o";
  g.result = std::move(result);
  g.served_score = served;
  g.yardstick_score = yard;
  g.cost_nanos = 1000 + i;
  g.yardstick_cost_nanos = 900 + i;
  g.prompt = i % 3 == 0 ? "" : fmt::format("ask {}: \"quoted\"\né", i);
  g.error = g.result == "error" ? "yardstick: timeout" : "";
  if (i == 1) {  // the answers' texts (NULL for the others)
    g.served_answer = "{\"answer\": \"B\"} é";
    g.yardstick_answer = "The answer is B.";
  }
  return g;
}

TEST(ShadowGrades, RoundTripThroughSqliteWithEveryFieldAndARepeatStoredOnce) {
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink) << sink.error().message;
  std::vector<ShadowGradeRecord> rows = {grade(1, "agree"), grade(2, "disagree"), grade(3, "scored", 0.7, 0.9),
                                         grade(4, "error")};
  ASSERT_TRUE((*sink)->writeShadowGrades(rows));
  ASSERT_TRUE((*sink)->writeShadowGrades(rows));  // a retried batch: each row once
  auto got = (*sink)->readShadowGrades();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, rows);
}

TEST(ShadowGrades, SinkWithoutShadowSupportRefusesThem) {
  testing::FakeSink fake;
  std::vector<ShadowGradeRecord> rows = {grade(1, "agree")};
  EXPECT_FALSE(fake.writeShadowGrades(rows));
  EXPECT_TRUE(fake.writeShadowGrades({}));
}

TEST(ShadowGrades, WriterStoresSubmittedGradesAndCountsThem) {
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink);
  TempDir dir;
  WriterOptions opts;
  opts.spill_path = dir.path / "spill.jsonl";
  opts.flush_interval = std::chrono::milliseconds(5);
  LedgerWriter w(**sink, opts);
  w.start();
  EXPECT_TRUE(w.submitShadowGrade(grade(1, "agree")));
  EXPECT_TRUE(w.submitShadowGrade(grade(2, "scored", 0.5, 1.0)));
  w.flushAndStop();
  EXPECT_FALSE(w.submitShadowGrade(grade(3, "agree")));  // after the stop: dropped, counted
  const WriterStats st = w.stats();
  EXPECT_EQ(st.shadow_submitted, 3u);
  EXPECT_EQ(st.shadow_written, 2u);
  EXPECT_EQ(st.shadow_dropped, 1u);
  EXPECT_EQ((*sink)->readShadowGrades()->size(), 2u);
}

TEST(ShadowQuality, AgreeRateHasTheWilsonInterval) {
  ShadowTally t;
  for (int i = 0; i < 8; ++i) t.add("agree", -1, -1, 10);
  for (int i = 0; i < 2; ++i) t.add("disagree", -1, -1, 10);
  t.add("error", -1, -1, 5);  // not a sample
  const ShadowQuality q = estimateQuality(t);
  EXPECT_STREQ(q.kind, "agree");
  EXPECT_EQ(q.n, 10);
  EXPECT_DOUBLE_EQ(*q.value, 0.8);
  // Wilson 95% for 8/10: [0.4902, 0.9433].
  EXPECT_NEAR(*q.low, 0.4902, 1e-4);
  EXPECT_NEAR(*q.high, 0.9433, 1e-4);
  EXPECT_EQ(t.cost_nanos, 105);
  EXPECT_EQ(t.errors, 1);
}

TEST(ShadowQuality, AllAgreeStaysInsideZeroToOne) {
  ShadowTally t;
  for (int i = 0; i < 4; ++i) t.add("agree", -1, -1, 0);
  const ShadowQuality q = estimateQuality(t);
  EXPECT_DOUBLE_EQ(*q.value, 1.0);
  EXPECT_NEAR(*q.low, 0.5101, 1e-4);
  EXPECT_LE(*q.high, 1.0);
}

TEST(ShadowQuality, JudgeScoresGiveTheRatioOfMeansWithANormalInterval) {
  ShadowTally t;
  t.add("scored", 0.6, 0.8, 1);
  t.add("scored", 0.8, 0.8, 1);
  t.add("scored", 0.7, 1.0, 1);
  t.add("scored", 0.9, 0.9, 1);
  const ShadowQuality q = estimateQuality(t);
  EXPECT_STREQ(q.kind, "judge");
  EXPECT_EQ(q.n, 4);
  EXPECT_NEAR(*q.value, 3.0 / 3.5, 1e-12);
  ASSERT_TRUE(q.low && q.high);
  // By hand: d_i = s_i - r y_i; se = sqrt(sum d^2 / ((n-1) n)) / ybar.
  const double r = 3.0 / 3.5;
  double ss = 0;
  for (auto [s, y] : {std::pair{0.6, 0.8}, {0.8, 0.8}, {0.7, 1.0}, {0.9, 0.9}}) ss += (s - r * y) * (s - r * y);
  const double se = std::sqrt(ss / 12.0) / (3.5 / 4);
  EXPECT_NEAR(*q.low, r - 1.959963984540054 * se, 1e-9);
  EXPECT_NEAR(*q.high, r + 1.959963984540054 * se, 1e-9);
}

TEST(ShadowQuality, OneScoreHasNoIntervalAndNoGradesNoEstimate) {
  ShadowTally t;
  EXPECT_FALSE(estimateQuality(t).value);
  t.add("scored", 0.5, 1.0, 0);
  const ShadowQuality q = estimateQuality(t);
  EXPECT_DOUBLE_EQ(*q.value, 0.5);
  EXPECT_FALSE(q.low);
}

TEST(ShadowReport, ShowsQualityPerRouteAndModelBesideCostAndTheShadowSpend) {
  TempDir dir;
  const std::string path = (dir.path / "ledger.db").string();
  {
    auto sink = SqliteSink::open(path);
    ASSERT_TRUE(sink);
    std::vector<LedgerRecord> rows;
    for (int i = 1; i <= 8; ++i) rows.push_back(sampleRecord(i));
    ASSERT_TRUE((*sink)->writeBatch(rows));
    // chat x llama-3.1-8b: requests 1, 3, 5, 7; two agree, one disagree, one error.
    std::vector<ShadowGradeRecord> g = {grade(1, "agree"), grade(3, "agree"), grade(5, "disagree"), grade(7, "error")};
    ASSERT_TRUE((*sink)->writeShadowGrades(g));
  }
  auto rep = buildReport(path, {});
  ASSERT_TRUE(rep) << rep.error().message;
  ASSERT_EQ(rep->shadow.size(), 1u);
  const ShadowReportRow& s = rep->shadow[0];
  EXPECT_EQ(s.route, "chat");
  EXPECT_EQ(s.model, "llama-3.1-8b");
  EXPECT_EQ(s.yardstick, "gpt-4o");
  EXPECT_EQ(s.tally.agree, 2);
  EXPECT_EQ(s.tally.disagree, 1);
  EXPECT_EQ(s.tally.errors, 1);
  EXPECT_EQ(s.requests, 4);
  EXPECT_EQ(s.spend_nanos, (1234 + 1) + (1234 + 3) + (1234 + 5) + (1234 + 7));
  EXPECT_EQ(rep->shadow_spend_nanos, 1001 + 1003 + 1005 + 1007);
  const std::string text = formatReportText(*rep);
  EXPECT_NE(text.find("shadow evaluation"), std::string::npos) << text;
  EXPECT_NE(text.find("0.667 ["), std::string::npos) << text;
  EXPECT_NE(text.find("shadow spend: 0.000004 USD"), std::string::npos) << text;
  const std::string json = formatReportJson(*rep);
  EXPECT_NE(json.find(R"("grade":"agree","n":3,"agree":2,"disagree":1,"scored":0,"errors":1)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("shadow_spend_usd":4.016e-06)"), std::string::npos) << json;
}

TEST(ShadowReport, ALedgerWithoutShadowGradesShowsNoShadowSection) {
  TempDir dir;
  const std::string path = (dir.path / "ledger.db").string();
  {
    auto sink = SqliteSink::open(path);
    ASSERT_TRUE(sink);
    std::vector<LedgerRecord> rows = {sampleRecord(1)};
    ASSERT_TRUE((*sink)->writeBatch(rows));
  }
  auto rep = buildReport(path, {});
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->shadow.empty());
  EXPECT_EQ(formatReportText(*rep).find("shadow"), std::string::npos);
}

TEST(ShadowExport, GradedRequestsBecomeOutcomesForTheServedModelAndTheYardstick) {
  TempDir dir;
  const std::string path = (dir.path / "ledger.db").string();
  {
    auto sink = SqliteSink::open(path);
    ASSERT_TRUE(sink);
    std::vector<LedgerRecord> rows = {sampleRecord(1), sampleRecord(2), sampleRecord(5)};
    ASSERT_TRUE((*sink)->writeBatch(rows));
    ShadowGradeRecord sensitive = grade(3, "agree");
    ASSERT_TRUE(sensitive.prompt.empty());  // grade(3): no prompt, as for a sensitive request
    std::vector<ShadowGradeRecord> g = {grade(1, "agree"), grade(2, "scored", 0.6, 0.9), sensitive, grade(4, "error"),
                                        grade(5, "disagree")};
    ASSERT_TRUE((*sink)->writeShadowGrades(g));
  }
  const std::string out = (dir.path / "outcomes.jsonl").string();
  auto sum = exportOutcomes(LedgerSource{LedgerSource::Kind::kSqlite, path}, out);
  ASSERT_TRUE(sum) << sum.error().message;
  EXPECT_EQ(sum->written, 0);
  EXPECT_EQ(sum->shadow_written, 3);
  EXPECT_EQ(sum->shadow_skipped, 2);
  const std::vector<std::string> lines = testing::readLines(out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            R"({"id":"req-000001/shadow","task":"chat","prompt":"ask 1: \"quoted\"\né","outcomes":{"llama-3.1-8b":)"
            R"({"score":1,"cost_usd":1.235e-06,"response":"{\"answer\": \"B\"} é"},"gpt-4o":{"score":1,"cost_usd":9.01e-07,)"
            R"("response":"The answer is B."}},"source":"shadow"})");
  EXPECT_NE(lines[1].find(R"("task":"extract","prompt":"ask 2: \"quoted\"\né","outcomes":{"llama-3.1-8b":{"score":0.6,"cost_usd":1.236e-06},"gpt-4o":{"score":0.9,"cost_usd":9.02e-07}})"),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find(R"({"llama-3.1-8b":{"score":0,"cost_usd":1.239e-06},"gpt-4o":{"score":1,)"), std::string::npos)
      << lines[2];
}

}  // namespace
}  // namespace rightsize::ledger
