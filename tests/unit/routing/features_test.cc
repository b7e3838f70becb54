#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>
#include <string>

#include "routing/features.h"

namespace rightsize::routing {
namespace {

struct Features {
  std::vector<uint32_t> buckets;
  float sparse_scale;
  std::array<float, kDenseFeatures> dense;
};

Features featuresOf(std::string_view s) {
  PromptFeatures f;
  extractFeatures(s, 16, f);
  auto b = f.buckets();
  return {std::vector<uint32_t>(b.begin(), b.end()), f.sparse_scale, f.dense};
}

TEST(Features, AreDeterministicAndDependOnTheText) {
  auto a = featuresOf("What is the capital of France?");
  auto b = featuresOf("What is the capital of France?");
  auto c = featuresOf("Write a poem about the sea.");
  EXPECT_EQ(a.buckets, b.buckets);
  EXPECT_NE(a.buckets, c.buckets);
  EXPECT_FALSE(a.buckets.empty());
  EXPECT_NEAR(a.sparse_scale, 1.0 / std::sqrt(static_cast<double>(a.buckets.size())), 1e-6);
}

TEST(Features, TreatNumbersOfTheSameLengthAlike) {
  EXPECT_EQ(featuresOf("I have 17 apples").buckets, featuresOf("I have 42 apples").buckets);
  EXPECT_NE(featuresOf("I have 17 apples").buckets, featuresOf("I have 170 apples").buckets);
}

TEST(Features, IgnoreLetterCaseInNgrams) {
  EXPECT_EQ(featuresOf("Hello World").buckets, featuresOf("hello world").buckets);
}

TEST(Features, TruncateLongPromptsToHeadAndTail) {
  std::string long_text;
  while (long_text.size() < 200000) long_text += "lorem ipsum dolor sit amet ";
  auto f = featuresOf(long_text);
  // At most one token per 2 bytes of the window, two n-grams per token; three character
  // n-grams per byte of the character window.
  EXPECT_LE(f.buckets.size(), kHeadBytes + kTailBytes + 4 + 3 * (kCharHeadBytes + kCharTailBytes));
  EXPECT_GT(f.dense[0], std::log1p(100000.0f));  // total length still counted in full
  // The end of a long prompt (where the question is) is seen.
  auto g = featuresOf(long_text + " quantum chromodynamics");
  EXPECT_NE(f.buckets, g.buckets);
}

TEST(Features, AddCharacterNgramsAfterTheWordNgrams) {
  PromptFeatures f;
  extractFeatures("unbelievable", 16, f);
  // One token: its unigram and bigram, then 10 + 9 + 8 character 3-, 4- and 5-grams.
  EXPECT_EQ(f.word_count, 2u);
  EXPECT_EQ(f.hashes().size(), 2u);
  EXPECT_EQ(f.count, 2u + 10 + 9 + 8);
  // Words sharing a stem share character n-grams though not their word n-grams.
  auto a = featuresOf("unbelievable"), b = featuresOf("believable");
  size_t shared = 0;
  for (uint32_t x : std::vector<uint32_t>(b.buckets.begin() + 2, b.buckets.end()))
    shared += std::find(a.buckets.begin() + 2, a.buckets.end(), x) != a.buckets.end();
  EXPECT_GE(shared, 20u);
  EXPECT_EQ(std::find(a.buckets.begin(), a.buckets.begin() + 2, b.buckets[0]), a.buckets.begin() + 2);
  // Whitespace runs count as one space.
  EXPECT_EQ(featuresOf("a  b\n\tc").buckets, featuresOf("a b c").buckets);
}

TEST(Features, SeeStructureCues) {
  auto code = featuresOf("def add(a, b):\n    return a + b;\n");
  auto mc = featuresOf("Which is largest?\nA) 1\nB) 2\nC) 3\nD) 4\nAnswer:");
  auto plain = featuresOf("tell me a story about a cat");
  EXPECT_GT(code.dense[8], 0);    // code_cues
  EXPECT_EQ(plain.dense[8], 0);
  EXPECT_NEAR(mc.dense[10], std::log1p(4.0f), 1e-6);  // four option lines
  EXPECT_GT(mc.dense[11], 0);     // "Answer:" is a few-shot cue
  EXPECT_GT(mc.dense[12], 0);     // a question mark
  EXPECT_STREQ(denseFeatureName(10), "choice_lines");
}

TEST(Features, SeeNonLatinScripts) {
  auto zh = featuresOf("这是一个关于数学的问题");
  EXPECT_GT(zh.dense[5], 0.5);  // non-ASCII bytes
  EXPECT_GT(zh.dense[6], 0.2);  // CJK lead bytes
}

TEST(Features, OfEmptyTextAreEmpty) {
  auto f = featuresOf("");
  EXPECT_TRUE(f.buckets.empty());
  EXPECT_EQ(f.sparse_scale, 0);
}

}  // namespace
}  // namespace rightsize::routing
