#include "routing/features.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rightsize::routing {
namespace {

constexpr uint64_t kSeed = 0x2545F4914F6CDD1DULL;
constexpr uint64_t kMulUni = 0x9E3779B97F4A7C15ULL;  // Fibonacci hashing: the top bits are the bucket
constexpr uint64_t kMulBi = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kMulCue = 0x165667B19E3779F9ULL;
constexpr uint64_t kMulChar = 0xD6E8FEB86659FD93ULL;

// Byte classes for the tokenizer.
enum : uint8_t { kSpace = 0, kAlpha = 1, kDigit = 2, kPunct = 3 };

struct ByteTable {
  uint8_t cls[256];
  uint8_t fold[256];  // lower case; every digit folds to '0'
  constexpr ByteTable() : cls(), fold() {
    for (int c = 0; c < 256; ++c) {
      fold[c] = static_cast<uint8_t>(c);
      if (c <= 32 || c == 127) cls[c] = kSpace;
      else if (c >= '0' && c <= '9') {
        cls[c] = kDigit;
        fold[c] = '0';
      } else if ((c >= 'a' && c <= 'z') || c >= 128) cls[c] = kAlpha;
      else if (c >= 'A' && c <= 'Z') {
        cls[c] = kAlpha;
        fold[c] = static_cast<uint8_t>(c - 'A' + 'a');
      } else cls[c] = kPunct;
    }
  }
};
constexpr ByteTable kBytes;

constexpr uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
// Token hash: rotate-xor per byte (short dependency chain); buckets come from a multiply after.
constexpr uint64_t step(uint64_t h, uint8_t folded) { return rotl(h, 5) ^ folded; }
constexpr uint64_t tokenHash(std::string_view s) {
  uint64_t h = kSeed;
  for (char c : s) h = step(h, kBytes.fold[static_cast<uint8_t>(c)]);
  return h;
}

// Tokens that hint at code, at few-shot layouts or at math.
enum Cue : uint8_t { kCode = 1, kFewShot = 2, kMath = 4 };
struct CueWord {
  const char* word;
  uint8_t cue;
};
constexpr CueWord kCueWords[] = {
    {"def", kCode},        {"return", kCode},   {"import", kCode},   {"function", kCode}, {"include", kCode},
    {"class", kCode},      {"void", kCode},     {"const", kCode},    {"lambda", kCode},   {"elif", kCode},
    {"self", kCode},       {"println", kCode},  {"printf", kCode},   {"public", kCode},   {"struct", kCode},
    {"answer", kFewShot},  {"question", kFewShot}, {"example", kFewShot}, {"q", kFewShot}, {"a", kFewShot},
    {"input", kFewShot},   {"output", kFewShot}, {"frac", kMath},    {"sqrt", kMath},     {"equation", kMath},
    {"solve", kMath},      {"sum", kMath},      {"integer", kMath},  {"calculate", kMath}, {"cdot", kMath}};
constexpr size_t kCueCount = sizeof(kCueWords) / sizeof(kCueWords[0]);

// A 256-entry filter on the token hash: most tokens are rejected with one load.
struct CueTable {
  uint64_t hash[kCueCount];
  uint8_t filter[256];
  constexpr CueTable() : hash(), filter() {
    for (size_t i = 0; i < kCueCount; ++i) {
      hash[i] = tokenHash(kCueWords[i].word);
      filter[(hash[i] * kMulCue) >> 56] = 1;
    }
  }
  uint8_t cueOf(uint64_t h) const {
    if (!filter[(h * kMulCue) >> 56]) return 0;
    for (size_t i = 0; i < kCueCount; ++i)
      if (hash[i] == h) return kCueWords[i].cue;
    return 0;
  }
};
constexpr CueTable kCues;
constexpr uint64_t kAnswerHash = tokenHash("answer"), kQHash = tokenHash("q"), kAHash = tokenHash("a");

// Is `pos` (at the start of a line, spaces skipped) an option line like "A)", "(b)", "C.", "D:"?
inline bool isChoiceLine(std::string_view s, size_t pos) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
  if (pos < s.size() && s[pos] == '(') ++pos;
  if (pos + 1 >= s.size()) return false;
  char c = s[pos];
  bool letter = (c >= 'A' && c <= 'E') || (c >= 'a' && c <= 'e');
  char n = s[pos + 1];
  return letter && (n == ')' || n == '.' || n == ':');
}

struct Counts {
  uint32_t tokens = 0, token_bytes = 0, code = 0, fewshot = 0, math = 0;
  uint32_t punct = 0, questions = 0, choices = 0, blocks = 0;
  uint32_t digits = 0, upper = 0, nonascii = 0, cjk = 0;
};

// Byte statistics of a window, in loops the compiler vectorizes.
void byteStats(std::string_view s, Counts& c) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  uint32_t digits = 0, upper = 0, nonascii = 0, cjk = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const uint8_t b = p[i];
    digits += static_cast<uint8_t>(b - '0') < 10;
    upper += static_cast<uint8_t>(b - 'A') < 26;
    nonascii += b >= 128;
    cjk += static_cast<uint8_t>(b - 0xE3) < 7;  // lead byte of U+3000..U+9FFF (CJK, kana)
  }
  c.digits += digits, c.upper += upper, c.nonascii += nonascii, c.cjk += cjk;
}

// Tokens: runs of letters/digits (lower-cased, digits folded) and single punctuation marks.
// Each token emits its unigram and the bigram with the previous token of the segment.
void tokenize(std::string_view s, uint32_t*& out, Counts& c) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  uint64_t prev = kSeed;
  uint64_t last = 0;
  auto emit = [&](uint64_t h) {
    *out++ = static_cast<uint32_t>((h * kMulUni) >> 32);
    *out++ = static_cast<uint32_t>(((prev ^ rotl(h, 29)) * kMulBi) >> 32);
    prev = h;
    last = h;
  };
  size_t i = 0;
  if (n > 0 && isChoiceLine(s, 0)) ++c.choices;
  while (i < n) {
    const uint8_t cls = kBytes.cls[p[i]];
    if (cls == kAlpha || cls == kDigit) {
      const size_t start = i;
      uint64_t h = kSeed;
      bool number = true;
      do {
        h = step(h, kBytes.fold[p[i]]);
        number = number && kBytes.cls[p[i]] == kDigit;
        ++i;
      } while (i < n && static_cast<uint8_t>(kBytes.cls[p[i]] - 1) < 2);
      ++c.tokens;
      c.token_bytes += static_cast<uint32_t>(i - start);
      if (!number) {
        const uint8_t cue = kCues.cueOf(h);
        c.code += (cue & kCode) != 0;
        c.fewshot += (cue & kFewShot) != 0;
        c.math += (cue & kMath) != 0;
      }
      emit(h);
    } else if (cls == kPunct) {
      const uint8_t b = p[i];
      ++c.punct;
      if (b == '?') ++c.questions;
      else if (b == '{' || b == '}' || b == ';' || b == '`') ++c.code;
      else if (b == '=' || b == '+' || b == '^' || b == '\\' || b == '$' || b == '*' || b == '/' || b == '<' ||
               b == '>' || b == '%')
        ++c.math;
      else if (b == ':' && (last == kAnswerHash || last == kQHash || last == kAHash))
        ++c.fewshot;
      emit(rotl(kSeed, 17) ^ b);
      ++i;
    } else {
      if (p[i] == '\n') {
        if (i + 1 < n && p[i + 1] == '\n') ++c.blocks;
        if (isChoiceLine(s, i + 1)) ++c.choices;
      }
      ++i;
    }
  }
}

// Character 3-, 4- and 5-grams of the folded bytes (lower case, digits as '0', every run of
// whitespace as one space), one bucket each: they see sub-word cues (suffixes, notation, digits
// next to units) that the word n-grams split or miss. The last five folded bytes live in one
// integer; an n-gram's hash is its bytes tagged with its length, multiplied.
void charGrams(std::string_view s, uint32_t shift, uint32_t*& out) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  uint64_t window = 0;
  uint32_t have = 0;
  bool space = true;  // a leading run of whitespace is dropped
  for (size_t i = 0; i < s.size(); ++i) {
    uint8_t b = kBytes.fold[p[i]];
    if (kBytes.cls[p[i]] == kSpace) {
      if (space) continue;
      b = ' ';
      space = true;
    } else {
      space = false;
    }
    window = ((window << 8) | b) & 0xFFFFFFFFFFULL;
    ++have;
    if (have >= 3) *out++ = static_cast<uint32_t>((((window & 0xFFFFFFULL) | (3ULL << 40)) * kMulChar) >> 32) >> shift;
    if (have >= 4) *out++ = static_cast<uint32_t>((((window & 0xFFFFFFFFULL) | (4ULL << 40)) * kMulChar) >> 32) >> shift;
    if (have >= 5) *out++ = static_cast<uint32_t>(((window | (5ULL << 40)) * kMulChar) >> 32) >> shift;
  }
}

// Bytes after the last blank line ("\n\n") among the last 4 KB (the question after the few-shot
// examples); the whole length when there is none. memrchr is vectorized; a backwards byte loop
// over a long prompt was most of the decision time.
size_t lastBlockBytes(std::string_view text) {
  const size_t from = text.size() > 4096 ? text.size() - 4096 : 0;
  const char* base = text.data() + from;
  size_t len = text.size() - from;
  while (len > 1) {
    const void* hit = memrchr(base, '\n', len);
    if (!hit) break;
    const size_t at = static_cast<size_t>(static_cast<const char*>(hit) - base);
    if (at > 0 && base[at - 1] == '\n') return text.size() - (from + at + 1);
    len = at;
  }
  return text.size();
}

}  // namespace

void extractFeatures(std::string_view text, uint32_t hash_bits, PromptFeatures& out) {
  out.dense.fill(0);
  const uint32_t bits = std::clamp<uint32_t>(hash_bits, 10, 24);
  const uint32_t shift = 32 - bits;
  std::string_view head = text, tail;
  if (text.size() > kHeadBytes + kTailBytes) {
    // Cut at whitespace where one is near so the cut does not invent half-words.
    size_t h = kHeadBytes;
    for (size_t i = 0; i < 32 && h > 0 && kBytes.cls[static_cast<uint8_t>(text[h])] != kSpace; ++i) --h;
    size_t t = text.size() - kTailBytes;
    for (size_t i = 0; i < 32 && t < text.size() && kBytes.cls[static_cast<uint8_t>(text[t])] != kSpace; ++i) ++t;
    head = text.substr(0, h);
    tail = text.substr(t);
  }
  std::string_view char_head = text, char_tail;
  if (text.size() > kCharHeadBytes + kCharTailBytes) {
    char_head = text.substr(0, kCharHeadBytes);
    char_tail = text.substr(text.size() - kCharTailBytes);
  }
  // At most one token per byte, two n-grams per token; three character n-grams per byte.
  const size_t words_cap = 2 * (head.size() + tail.size());
  const size_t cap = words_cap + 3 * (char_head.size() + char_tail.size());
  if (out.storage.size() < cap) out.storage.resize(cap);
  if (out.hash_storage.size() < words_cap) out.hash_storage.resize(words_cap);
  uint32_t* w = out.hash_storage.data();
  Counts c;
  tokenize(head, w, c);
  byteStats(head, c);
  if (!tail.empty()) {
    tokenize(tail, w, c);
    byteStats(tail, c);
  }
  out.word_count = static_cast<size_t>(w - out.hash_storage.data());
  // Bucket = the top `bits` bits of the 64-bit product, i.e. of its top 32 bits.
  {
    const uint32_t* hs = out.hash_storage.data();
    uint32_t* bs = out.storage.data();
    for (size_t j = 0; j < out.word_count; ++j) bs[j] = hs[j] >> shift;
    uint32_t* cs = bs + out.word_count;
    charGrams(char_head, shift, cs);
    charGrams(char_tail, shift, cs);
    out.count = static_cast<size_t>(cs - bs);
  }
  const size_t window = head.size() + tail.size();
  out.sparse_scale = out.count == 0 ? 0.0f : 1.0f / std::sqrt(static_cast<float>(out.count));

  const size_t newlines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  const size_t last_block = lastBlockBytes(text);
  const float wsz = window > 0 ? static_cast<float>(window) : 1.0f;
  const float letters = static_cast<float>(std::max<uint32_t>(1, c.token_bytes > c.digits ? c.token_bytes - c.digits : 1));
  auto& d = out.dense;
  d[0] = std::log1p(static_cast<float>(text.size()));
  d[1] = std::log1p(static_cast<float>(newlines));
  d[2] = std::log1p(static_cast<float>(c.tokens));
  d[3] = static_cast<float>(c.digits) / wsz;
  d[4] = std::min(1.0f, static_cast<float>(c.upper) / letters);
  d[5] = static_cast<float>(c.nonascii) / wsz;
  d[6] = static_cast<float>(c.cjk) / wsz;
  d[7] = static_cast<float>(c.punct) / wsz;
  d[8] = std::log1p(static_cast<float>(c.code));
  d[9] = std::log1p(static_cast<float>(c.math));
  d[10] = std::log1p(static_cast<float>(c.choices));
  d[11] = std::log1p(static_cast<float>(c.fewshot));
  d[12] = std::log1p(static_cast<float>(c.questions));
  d[13] = std::log1p(static_cast<float>(c.blocks));
  d[14] = std::log1p(static_cast<float>(last_block));
  d[15] = c.tokens > 0 ? static_cast<float>(c.token_bytes) / static_cast<float>(c.tokens) : 0.0f;
}

const char* denseFeatureName(size_t i) {
  static constexpr const char* kNames[kDenseFeatures] = {
      "log_bytes",    "log_lines",  "log_tokens",   "digit_frac",  "upper_frac", "nonascii_frac",
      "cjk_frac",     "punct_frac", "code_cues",    "math_cues",   "choice_lines", "fewshot_cues",
      "questions",    "blocks",     "last_block_bytes", "mean_token_len"};
  return i < kDenseFeatures ? kNames[i] : "?";
}

}  // namespace rightsize::routing
