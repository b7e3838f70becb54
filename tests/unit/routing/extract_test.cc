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

TEST(Extractor, GarbageAndHugeAnswersAreNoVoteNotACrash) {
  const std::string garbage("\x00\xff\xfe{{{\"\\", 8);
  for (std::string_view s : {"json:a", "regex:(x)", "number", "choice"}) EXPECT_EQ(make(s).extract(garbage), std::nullopt) << s;
  std::string huge(1 << 20, '{');
  EXPECT_EQ(make("json:a").extract(huge), std::nullopt);
  std::string prose(1 << 20, 'x');
  prose += " so 42";
  EXPECT_EQ(make("number").extract(prose), "42");
  EXPECT_EQ(make("choice").extract(prose), std::nullopt);
  EXPECT_EQ(make("text").extract(prose)->size(), prose.size());
}

}  // namespace
}  // namespace rightsize::routing
