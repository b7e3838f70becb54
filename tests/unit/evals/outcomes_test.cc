// Outcome, prompt and decision files: both encodings, both prompt forms, missing models, bad lines.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <fstream>

#include "evals/metrics.h"
#include "evals/outcomes.h"

namespace rightsize::evals {
namespace {

std::string tempPath(const std::string& name) { return ::testing::TempDir() + "/rs_outcomes_" + name; }

std::string writePlain(const std::string& name, const std::string& text) {
  const std::string p = tempPath(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string writeGzip(const std::string& name, const std::string& text) {
  const std::string p = tempPath(name);
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  return p;
}

const char* kTwoRecords =
    R"({"id": "q1", "task": "t", "prompt": "What is 2+2?", "outcomes": {"small": {"score": 1.0, "cost_usd": 0.001, "response": "4"}, "big": {"score": 1, "cost_usd": 0.01}}}
{"id": "q2", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "old"}, {"role": "assistant", "content": "ok"}, {"role": "user", "content": [{"type": "text", "text": "Name a prime."}]}], "outcomes": {"big": {"score": 0.5, "cost_usd": 0.02}}}
)";

TEST(ReadOutcomes, ReadsGzipAndPlainFilesAlike) {
  auto plain = readOutcomes({writePlain("a.jsonl", kTwoRecords)});
  auto gz = readOutcomes({writeGzip("a.jsonl.gz", kTwoRecords)});
  ASSERT_TRUE(plain) << plain.error().message;
  ASSERT_TRUE(gz) << gz.error().message;
  EXPECT_EQ(plain->ids, gz->ids);
  EXPECT_EQ(plain->models, gz->models);
  EXPECT_EQ(plain->size(), 2u);
}

TEST(ReadOutcomes, ReducesMessagesToTheHumansAsk) {
  auto s = readOutcomes({writePlain("b.jsonl", kTwoRecords)});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->asks[0], "What is 2+2?");
  EXPECT_EQ(s->asks[1], "Be brief.\nName a prime.");  // system + last user turn only
}

TEST(ReadOutcomes, MarksAModelMissingFromARecordAsNoOutcome) {
  auto s = readOutcomes({writePlain("c.jsonl", kTwoRecords)});
  ASSERT_TRUE(s);
  const int small = s->modelIndex("small"), big = s->modelIndex("big");
  ASSERT_GE(small, 0);
  ASSERT_GE(big, 0);
  EXPECT_TRUE(s->has(0, small));
  EXPECT_FALSE(s->has(1, small));
  EXPECT_TRUE(std::isnan(s->scoreAt(1, small)));
  EXPECT_FLOAT_EQ(s->scoreAt(1, big), 0.5f);
  EXPECT_FLOAT_EQ(s->costAt(1, big), 0.02f);
}

TEST(ReadOutcomes, KeepsACostToTheNanoDollar) {
  // A cascade replay sums these and is compared with the ledger's nano-dollars: a float (24-bit
  // mantissa) is off by up to half a nano-dollar at half a cent.
  auto s = readOutcomes({writePlain("nano.jsonl",
                                    R"({"id":"n1","prompt":"p","outcomes":{"m":{"score":1,"cost_usd":0.0064812}}})")});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->costAt(0, 0), 0.0064812);
  EXPECT_EQ(std::llround(s->costAt(0, 0) * 1e9 * 1000), 6'481'200'000);
}

TEST(ReadOutcomes, NamesFileAndLineOfABadLine) {
  const std::string p = writePlain("bad.jsonl", std::string(kTwoRecords) + "\n{not json\n");
  auto s = readOutcomes({p});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kCorruptData);
  EXPECT_NE(s.error().message.find(p + ":4"), std::string::npos) << s.error().message;  // line 3 is blank
}

TEST(ReadOutcomes, RejectsScoresOutsideZeroToOne) {
  auto s = readOutcomes(
      {writePlain("range.jsonl", R"({"id": "x", "prompt": "p", "outcomes": {"m": {"score": 7, "cost_usd": 0}}})")});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("outside [0, 1]"), std::string::npos);
}

TEST(ReadOutcomes, RejectsDuplicateIdsAcrossFiles) {
  const std::string a = writePlain("dup1.jsonl", kTwoRecords);
  const std::string b = writePlain("dup2.jsonl", kTwoRecords);
  auto s = readOutcomes({a, b});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("duplicate id 'q1'"), std::string::npos) << s.error().message;
}

TEST(ReadOutcomes, RejectsARecordWithoutAPrompt) {
  auto s = readOutcomes({writePlain("noprompt.jsonl", R"({"id": "x", "outcomes": {}})")});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("missing \"prompt\""), std::string::npos);
}

TEST(ReadOutcomes, FailsWithIoForAMissingFile) {
  auto s = readOutcomes({tempPath("does-not-exist.jsonl")});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kIo);
}

TEST(ReadPrompts, IgnoresOutcomesWhateverTheyHold) {
  auto p = readPrompts(writePlain("prompts.jsonl",
                                  R"({"id": "a", "prompt": "hello", "outcomes": 42}
{"id": 7, "prompt": "world", "outcomes": {"m": {"score": "not a number"}}}
{"id": "c", "prompt": "plain"}
)"));
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[1].id, "7");
  EXPECT_EQ((*p)[1].ask, "world");
}

TEST(ToTrainingData, KeepsOnlyTheAskedModelsAndRejectsUnknownOnes) {
  auto s = readOutcomes({writePlain("td.jsonl", kTwoRecords)});
  ASSERT_TRUE(s);
  auto d = toTrainingData(*s, {"small"});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->size(), 1u);  // q2 has no outcome of "small"
  EXPECT_FALSE(toTrainingData(*s, {"nope"}));
}

TEST(RestrictModels, KeepsAPairAndDropsRecordsWithoutEither) {
  auto s = readOutcomes({writePlain("rm.jsonl", kTwoRecords)});
  ASSERT_TRUE(s);
  auto r = restrictModels(*s, {"small"});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->models, std::vector<std::string>{"small"});
  ASSERT_EQ(r->size(), 1u);  // q2 has no outcome of "small"
  EXPECT_EQ(r->index.at(r->ids[0]), 0u);
  EXPECT_EQ(r->scoreAt(0, 0), s->scoreAt(s->index.at(r->ids[0]), static_cast<size_t>(s->modelIndex("small"))));
  EXPECT_FALSE(restrictModels(*s, {"nope"}));
  EXPECT_FALSE(restrictModels(*s, {"small", "small"}));
}

TEST(RestrictRecords, KeepsTheGivenRecordsInTheirOrderWithEveryModel) {
  auto s = readOutcomes({writePlain("rr.jsonl", kTwoRecords)});
  ASSERT_TRUE(s);
  const OutcomeSet r = restrictRecords(*s, {1, 0});
  EXPECT_EQ(r.models, s->models);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r.ids[0], s->ids[1]);
  EXPECT_EQ(r.index.at(s->ids[0]), 1u);
  EXPECT_EQ(r.responses_present, s->responses_present);
  for (size_t m = 0; m < s->models.size(); ++m) {
    EXPECT_EQ(r.has(0, m), s->has(1, m));
    if (s->has(1, m)) {
      EXPECT_EQ(r.scoreAt(0, m), s->scoreAt(1, m));
    }
  }
  EXPECT_EQ(restrictRecords(*s, {0}).size(), 1u);
}

TEST(ReadDecisions, ReadsLinesWrittenByDecisionLine) {
  const std::string text = decisionLine("a\"1", "m/x", 0.35) + "\n" + decisionLine("b", "n", 1) + "\n";
  auto d = readDecisions(writePlain("dec.jsonl", text));
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[0].id, "a\"1");
  EXPECT_EQ((*d)[0].model, "m/x");
  EXPECT_DOUBLE_EQ((*d)[0].knob, 0.35);
}

}  // namespace
}  // namespace rightsize::evals
