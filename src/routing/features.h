#pragma once
// Features of a prompt for the learned router, from the text alone: hashed word unigrams and
// bigrams, hashed character 3-, 4- and 5-grams, plus a few dense structure cues (length, code, math, multiple choice, few-shot
// examples, script). Pure and allocation-free once the output buffer has warmed up; a few
// microseconds for an 8 KB prompt because long prompts are truncated (head + tail) for the
// n-grams, never rejected.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace rightsize::routing {

// Bumped whenever extractFeatures() changes what it computes: a router file trained with
// another version is rejected instead of silently mispredicting.
inline constexpr uint32_t kFeatureVersion = 2;

// Only this much of a long prompt feeds the n-grams: its start (the instructions and task
// template) and its end (the actual question, after any few-shot examples).
inline constexpr size_t kHeadBytes = 512;
inline constexpr size_t kTailBytes = 1536;
// Character n-grams (3 per byte) see a smaller window: the first kCharHeadBytes and the last
// kCharTailBytes of the text (all of it when shorter), which keeps the decision a few µs.
inline constexpr size_t kCharHeadBytes = 256;
inline constexpr size_t kCharTailBytes = 768;

inline constexpr size_t kDenseFeatures = 16;

struct PromptFeatures {
  // One hashed bucket in [0, 2^hash_bits) per n-gram occurrence (repeats are kept: a bucket
  // that occurs twice counts twice): first the word n-grams, then the character n-grams.
  std::span<const uint32_t> buckets() const { return {storage.data(), count}; }
  std::vector<uint32_t> storage;  // capacity reused across calls; only the first `count` are valid
  size_t count = 0;        // word + character n-grams
  size_t word_count = 0;   // the first word_count buckets are word n-grams
  // The word n-grams as 32-bit hashes (a bucket is the top hash_bits bits of its hash), for the
  // router's novelty sketch (RouterModel::coverage). Entry 2j is a unigram, 2j+1 its bigram.
  std::span<const uint32_t> hashes() const { return {hash_storage.data(), word_count}; }
  std::vector<uint32_t> hash_storage;
  // 1/sqrt(buckets().size()): the sparse part is scaled to about unit length (0 when empty).
  float sparse_scale = 0;
  // Raw dense cues; the router standardizes them with statistics learned at train time.
  std::array<float, kDenseFeatures> dense{};
};

// Fills `out` from `text`. `hash_bits` in [10, 24]. Never fails; empty text gives no buckets.
void extractFeatures(std::string_view text, uint32_t hash_bits, PromptFeatures& out);

// Short name of dense feature i (for reports and `rightsize route`).
const char* denseFeatureName(size_t i);

}  // namespace rightsize::routing
