#include "routing/extract.h"

#include <gtest/gtest.h>

namespace rightsize::routing {
namespace {

Extractor make(std::string_view spec) {
  auto e = Extractor::parse(spec);
  EXPECT_TRUE(e) << (e ? "" : e.error().message);
  return *e;
}

TEST(Extractor, RejectsBadSpecsWithTheSpecInTheMessage) {
  for (std::string_view s : {"", "json:", "regex:", "regex:(", "numbers", "Choice", "json"}) {
    auto e = Extractor::parse(s);
    ASSERT_FALSE(e) << s;
    EXPECT_NE(e.error().message.find("bad extract spec"), std::string::npos);
  }
}

TEST(Extractor, NormalizesTrimQuotesWhitespaceAndCase) {
  EXPECT_EQ(normalizeAnswer("  \"Hello   World\"\n"), "hello world");
  EXPECT_EQ(normalizeAnswer("'x'"), "x");
  EXPECT_EQ(normalizeAnswer("ÉTÉ  Été"), "ÉtÉ Été");  // non-ASCII bytes kept as they are
  auto t = make("text");
  EXPECT_EQ(t.extract("  Paris \n"), "paris");
  EXPECT_EQ(t.extract("   "), std::nullopt);
  EXPECT_EQ(t.extract(""), std::nullopt);
}

TEST(Extractor, JsonFieldFromFencedOrBareObject) {
  auto j = make("json:answer");
  EXPECT_EQ(j.extract("Sure!\n```json\n{\"answer\": \"Paris\", \"why\": \"capital\"}\n```"), "paris");
  EXPECT_EQ(j.extract("The result is {\"answer\": 18.0} ok"), "18");
  EXPECT_EQ(j.extract("{\"answer\": 18}"), "18");
  EXPECT_EQ(j.extract("{\"answer\": true}"), "true");
  EXPECT_EQ(j.extract("{\"answer\": [1, 2]}"), "[1,2]");
  EXPECT_EQ(j.extract("{\"answer\": null}"), std::nullopt);
  EXPECT_EQ(j.extract("{\"other\": 1}"), std::nullopt);
  EXPECT_EQ(j.extract("{not json} then {\"answer\": \"b\"}"), "b");
  EXPECT_EQ(j.extract("{\"answer\": \"}{\"}"), "}{");
  EXPECT_EQ(j.extract("no json here"), std::nullopt);
  EXPECT_EQ(j.extract("{\"answer\": \"unterminated"), std::nullopt);
  EXPECT_EQ(j.extract("{\"answer\": \"日本\"}"), "日本");
}

TEST(Extractor, RegexTakesTheFirstGroup) {
  auto r = make("regex:total: (\\d+)");
  EXPECT_EQ(r.extract("sub: 3, total: 42, total: 7"), "42");
  EXPECT_EQ(r.extract("nothing"), std::nullopt);
  EXPECT_EQ(make("regex:[A-Z]+").extract("abc DEF"), "def");
}

TEST(Extractor, NumberIsTheFinalNumberComparedNumerically) {
  auto n = make("number");
  EXPECT_EQ(n.extract("18"), "18");
  EXPECT_EQ(n.extract("18.0"), n.extract("18"));
  EXPECT_EQ(n.extract("It costs $18."), "18");
  EXPECT_EQ(n.extract("1,234"), "1234");
  EXPECT_EQ(n.extract("First 3 apples, then 5, so the answer is 8."), "8");
  EXPECT_EQ(n.extract("1, 2, 3"), "3");
  EXPECT_EQ(n.extract("-0.50"), "-0.5");
  EXPECT_EQ(n.extract("007"), "7");
  EXPECT_EQ(n.extract("no digits at all"), std::nullopt);
}

TEST(Extractor, ChoiceReadsOneOptionLetter) {
  auto c = make("choice");
  EXPECT_EQ(c.extract("B"), "b");
  EXPECT_EQ(c.extract("C\n"), "c");
  EXPECT_EQ(c.extract("(B)"), "b");
  EXPECT_EQ(c.extract("B."), "b");
  EXPECT_EQ(c.extract("**B**"), "b");
  EXPECT_EQ(c.extract("A)"), "a");
  EXPECT_EQ(c.extract("The answer is (B)"), "b");
  EXPECT_EQ(c.extract("Answer: D because ..."), "d");
  EXPECT_EQ(c.extract("B. Paris is the capital"), "b");
  EXPECT_EQ(c.extract("I do"), std::nullopt);
  EXPECT_EQ(c.extract("The answer is a dog"), std::nullopt);
  EXPECT_EQ(c.extract("K"), std::nullopt);
  EXPECT_EQ(c.extract(""), std::nullopt);
}

TEST(Extractor, AnswerIsTheOptionLetterElseTheFinalNumber) {
  auto a = make("answer");
  EXPECT_EQ(a.extract("The answer is (B)"), "b");
  EXPECT_EQ(a.extract("**C**"), "c");
  EXPECT_EQ(a.extract("She has 3 apples, then 15 more: 18"), "18");
  EXPECT_EQ(a.extract("$18.00"), "18");
  EXPECT_EQ(a.extract("Answer: A, since 2 + 2 = 4"), "a");  // a letter, when given, wins
  EXPECT_EQ(a.extract("I am not sure"), std::nullopt);
  EXPECT_NE(a.extract("B"), a.extract("2"));                 // a letter never equals a number
  EXPECT_EQ(a.spec(), "answer");
}

TEST(Extractor, GarbageAndHugeAnswersAreNoVoteNotACrash) {
  const std::string garbage("\x00\xff\xfe{{{\"\\", 8);
  for (std::string_view s : {"json:a", "regex:(x)", "number", "choice", "answer"})
    EXPECT_EQ(make(s).extract(garbage), std::nullopt) << s;
  std::string huge(1 << 20, '{');
  EXPECT_EQ(make("json:a").extract(huge), std::nullopt);
  std::string prose(1 << 20, 'x');
  prose += " so 42";
  EXPECT_EQ(make("number").extract(prose), "42");
  EXPECT_EQ(make("choice").extract(prose), std::nullopt);
  EXPECT_EQ(make("answer").extract(prose), "42");
  EXPECT_EQ(make("text").extract(prose)->size(), prose.size());
}

TEST(Extractor, EmptyAndBlankAnswersAreNoVoteForEveryKind) {
  for (std::string_view s : {"json:answer", "regex:(\\d+)", "regex:x", "number", "choice", "answer", "text"})
    for (std::string_view a : {"", " ", "\n\t ", "\"\"", "''"}) EXPECT_EQ(make(s).extract(a), std::nullopt) << s << " on [" << a << "]";
  EXPECT_EQ(make("json:answer").extract("{\"answer\": \"\"}"), std::nullopt);      // an empty value is no vote
  EXPECT_EQ(make("json:answer").extract("{\"answer\": \"  \"}"), std::nullopt);
  EXPECT_EQ(make("regex:total: (\\d*)").extract("total: none"), std::nullopt);  // an empty group
}

TEST(Extractor, UnicodeIsKeptAndOnlyAsciiDigitsAndLettersCount) {
  EXPECT_EQ(make("json:answer").extract("{\"answer\": \"caf\\u00e9\"}"), "café");  // JSON escapes decoded
  EXPECT_EQ(make("json:answer").extract("{\"answer\": \"café\"}"), make("json:answer").extract("{\"answer\": \"caf\\u00e9\"}"));
  EXPECT_EQ(make("json:réponse").extract("```json\n{\"réponse\": \"Été\"}\n```"), "Été");  // non-ASCII not case-folded
  EXPECT_EQ(make("regex:città: (\\pL+)").extract("La città: Roma è bella"), "roma");
  EXPECT_EQ(make("number").extract("答案是 42。"), "42");
  EXPECT_EQ(make("number").extract("Ответ: 1,024 байта"), "1024");
  EXPECT_EQ(make("number").extract("答案是 ４２"), std::nullopt);  // full-width digits are not digits here
  EXPECT_EQ(make("choice").extract("答案是 (C)"), "c");
  EXPECT_EQ(make("choice").extract("Answer: Ｃ"), std::nullopt);  // a full-width letter is not an option
  EXPECT_EQ(make("text").extract("  Ünïcödé   ABC "), "Ünïcödé abc");
  // Two answers that differ only in non-ASCII case are different values (no Unicode case folding).
  EXPECT_NE(make("text").extract("été"), make("text").extract("ÉTÉ"));
}

TEST(Extractor, NumbersInProseTakeTheFinalNumber) {
  auto n = make("number");
  EXPECT_EQ(n.extract("In 2023, 3 of the 5 tests passed, so the answer is 42."), "42");
  EXPECT_EQ(n.extract("Step 1: 12 + 30 = 42\nFinal answer: 42"), "42");
  EXPECT_EQ(n.extract("It costs $1,234.50 in total."), "1234.5");
  EXPECT_EQ(n.extract("The temperature fell to -3.5 degrees."), "-3.5");
  EXPECT_EQ(n.extract("We need 18.000 apples"), n.extract("**18**"));
  // Not thousands groups: a group of three followed by a digit. Two numbers, the last counts.
  EXPECT_EQ(n.extract("1,2345"), "2345");
  EXPECT_EQ(n.extract("-1,2345"), "2345");
  EXPECT_EQ(n.extract("pick 7,1000 of them"), "1000");
  EXPECT_EQ(n.extract("1,234,5678"), "5678");
  EXPECT_EQ(n.extract("1,234,567 and 1,234.5"), "1234.5");
  // The final number, not the one that looks like the answer: a trailing aside wins. Use
  // json:FIELD or regex: when answers carry numbers after the answer.
  EXPECT_EQ(n.extract("The answer is 42. I am 90% sure."), "90");
}

TEST(Extractor, AMegabyteAnswerStillYieldsItsValue) {
  const std::string filler(1 << 20, 'x');
  EXPECT_EQ(make("regex:answer=(\\w+)").extract(filler + " answer=Yes"), "yes");
  EXPECT_EQ(make("json:answer").extract(filler + "\n```json\n{\"answer\": 7}\n```"), "7");
  EXPECT_EQ(make("json:answer").extract("{\"answer\": \"" + filler + "\"}")->size(), filler.size());
  EXPECT_EQ(make("choice").extract(filler + "\nThe answer is (D)."), "d");
  EXPECT_EQ(make("number").extract(std::string(1 << 20, '7')).value().size(), size_t{1} << 20);
  // The first JSON object decides: an empty one before the answer is no vote.
  EXPECT_EQ(make("json:answer").extract("{} {\"answer\": 1}"), std::nullopt);
  // Most of a megabyte of brace pairs that are not JSON, then a real object: the tries are
  // bounded, so this gives up (no vote) instead of parsing once per brace.
  std::string braces;
  for (int i = 0; i < (1 << 18); ++i) braces += "{x}";
  EXPECT_EQ(make("json:answer").extract(braces + "{\"answer\": 1}"), std::nullopt);
  EXPECT_EQ(make("json:answer").extract("{x} {\"answer\": 1}"), "1");
}

}  // namespace
}  // namespace rightsize::routing
