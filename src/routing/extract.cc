#include "routing/extract.h"

#include <fmt/format.h>
#include <re2/re2.h>
#include <simdjson.h>

#include <vector>

#include "common/strings.h"

namespace rightsize::routing {

namespace {

enum class Kind { kJson, kRegex, kNumber, kChoice, kAnswer, kText };

// The end (one past the closing brace) of the balanced {...} starting at `open`, skipping
// braces inside JSON strings; npos when it never closes.
size_t objectEnd(std::string_view s, size_t open) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = open; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{') ++depth;
    else if (c == '}' && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

// Canonical decimal text of a number: no sign on zero, no leading zeros, no trailing
// fractional zeros ("018.50" -> "18.5", "18.0" -> "18", "-0" -> "0").
std::string canonicalNumber(bool negative, std::string int_part, std::string frac) {
  size_t nz = int_part.find_first_not_of('0');
  int_part = nz == std::string::npos ? "0" : int_part.substr(nz);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  std::string out = int_part;
  if (!frac.empty()) out += "." + frac;
  if (negative && out != "0") out = "-" + out;
  return out;
}

std::optional<std::string> jsonValueText(simdjson::dom::element v) {
  using simdjson::dom::element_type;
  switch (v.type()) {
    case element_type::STRING: return std::string(std::string_view(v.get_string().value()));
    case element_type::INT64: return std::to_string(int64_t(v.get_int64().value()));
    case element_type::UINT64: return std::to_string(uint64_t(v.get_uint64().value()));
    case element_type::DOUBLE: {
      // Through the number canonicalizer, so 18.0 and 18 agree.
      std::string t = fmt::format("{:.15g}", double(v.get_double().value()));
      if (t.find_first_of("eE") != std::string::npos) return t;
      const bool neg = !t.empty() && t[0] == '-';
      if (neg) t.erase(0, 1);
      const size_t dot = t.find('.');
      return canonicalNumber(neg, t.substr(0, dot), dot == std::string::npos ? "" : t.substr(dot + 1));
    }
    case element_type::BOOL: return std::string(v.get_bool().value() ? "true" : "false");
    case element_type::NULL_VALUE: return std::nullopt;  // an explicit null is no answer
    default: return simdjson::minify(v);
  }
}

}  // namespace

struct Extractor::Impl {
  std::string spec;
  Kind kind = Kind::kText;
  std::string field;                 // json
  std::unique_ptr<RE2> re;           // regex
};

std::string normalizeAnswer(std::string_view s) {
  s = trim(s);
  while (s.size() >= 2) {
    const char q = s.front();
    if ((q == '"' || q == '\'' || q == '`') && s.back() == q) s = trim(s.substr(1, s.size() - 2));
    else break;
  }
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (isSpace(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

Result<Extractor> Extractor::parse(std::string_view spec) {
  auto impl = std::make_shared<Impl>();
  impl->spec = std::string(spec);
  const auto bad = [&](std::string_view why) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("bad extract spec '{}': {} (valid: json:FIELD, regex:PATTERN, number, choice, answer, text)", spec, why));
  };
  if (spec == "number") impl->kind = Kind::kNumber;
  else if (spec == "choice") impl->kind = Kind::kChoice;
  else if (spec == "answer") impl->kind = Kind::kAnswer;
  else if (spec == "text") impl->kind = Kind::kText;
  else if (spec.substr(0, 5) == "json:") {
    impl->kind = Kind::kJson;
    impl->field = std::string(spec.substr(5));
    if (impl->field.empty()) return bad("json: needs a field name");
  } else if (spec.substr(0, 6) == "regex:") {
    impl->kind = Kind::kRegex;
    const std::string_view pattern = spec.substr(6);
    if (pattern.empty()) return bad("regex: needs a pattern");
    RE2::Options opts;
    opts.set_log_errors(false);
    impl->re = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
    if (!impl->re->ok()) return bad(impl->re->error());
  } else {
    return bad("unknown kind");
  }
  Extractor e;
  e.impl_ = std::move(impl);
  return e;
}

const std::string& Extractor::spec() const { return impl_->spec; }

namespace {

std::optional<std::string> extractJson(std::string_view text, const std::string& field) {
  // A ```json fence first; otherwise the first balanced {...} that parses. Bounded tries, so
  // a megabyte of stray braces costs a few scans, not one per brace.
  std::string_view hay = text;
  if (size_t f = text.find("```json"); f != std::string_view::npos) {
    std::string_view rest = text.substr(f + 7);
    size_t close = rest.find("```");
    hay = close == std::string_view::npos ? rest : rest.substr(0, close);
  }
  simdjson::dom::parser parser;
  constexpr int kMaxTries = 16;
  size_t from = 0;
  for (int tries = 0; tries < kMaxTries; ++tries) {
    const size_t open = hay.find('{', from);
    if (open == std::string_view::npos) return std::nullopt;
    const size_t end = objectEnd(hay, open);
    if (end == std::string_view::npos) return std::nullopt;
    simdjson::padded_string padded(hay.substr(open, end - open));
    simdjson::dom::element doc;
    if (!parser.parse(padded).get(doc) && doc.is_object()) {
      simdjson::dom::element v;
      if (doc.get_object().at_key(field).get(v)) return std::nullopt;  // the first object decides
      return jsonValueText(v);
    }
    from = open + 1;
  }
  return std::nullopt;
}

std::optional<std::string> extractNumber(std::string_view text) {
  // Thousands separators only in groups of three ("1,234"), so "1, 2, 3" is three numbers.
  static const RE2 kNumber(R"((-?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?)");
  re2::StringPiece in(text.data(), text.size());
  re2::StringPiece sign, int_part, frac;
  std::optional<std::string> last;
  while (RE2::FindAndConsume(&in, kNumber, &sign, &int_part, &frac)) {
    const size_t comma = int_part.find(',');
    if (comma != re2::StringPiece::npos && !in.empty() && in[0] >= '0' && in[0] <= '9') {
      // "1,2345": a group of three followed by a digit is no thousands group. The digits before
      // the first comma are one number; the scan goes on after that comma.
      last = canonicalNumber(!sign.empty(), std::string(int_part.data(), comma), "");
      const char* resume = int_part.data() + comma + 1;
      in = re2::StringPiece(resume, static_cast<size_t>(text.data() + text.size() - resume));
      continue;
    }
    std::string digits;
    for (char c : int_part)
      if (c != ',') digits.push_back(c);
    last = canonicalNumber(!sign.empty(), digits, std::string(frac.data(), frac.size()));
  }
  return last;
}

std::optional<std::string> extractChoice(std::string_view text) {
  // Letters must be capitals: "a" in "is a dog" is a word, not an option.
  static const RE2 kBare(R"(^[\s\*\(\[]*([A-J])[\s\*\)\]\.:,]*$)");
  static const RE2 kSaid(R"((?i:answer)(?:\s+(?i:is))?\s*[:\-]?\s*[\*\(\[]*\s*([A-J])(?:[\s\*\)\]\.:,]|$))");
  static const RE2 kLeading(R"(^[\s\*\(\[]*([A-J])[\)\]\.:][\s\*]|^[\s\*]*\(([A-J])\))");
  static const RE2 kMarked(R"(\(([A-J])\)|\*\*([A-J])\*\*)");
  re2::StringPiece in(text.data(), text.size());
  std::string a, b;
  if (RE2::FullMatch(in, kBare, &a)) return a;
  if (RE2::PartialMatch(in, kSaid, &a)) return a;
  if (RE2::PartialMatch(in, kLeading, &a, &b)) return a.empty() ? b : a;
  if (RE2::PartialMatch(in, kMarked, &a, &b)) return a.empty() ? b : a;
  return std::nullopt;
}

std::optional<std::string> extractRegex(std::string_view text, const RE2& re) {
  re2::StringPiece in(text.data(), text.size());
  if (re.NumberOfCapturingGroups() == 0) {
    re2::StringPiece m;
    if (!re.Match(in, 0, in.size(), RE2::UNANCHORED, &m, 1)) return std::nullopt;
    return std::string(m.data(), m.size());
  }
  std::string g;
  if (!RE2::PartialMatch(in, re, &g)) return std::nullopt;
  return g;
}

}  // namespace

std::optional<std::string> Extractor::extract(std::string_view answer) const {
  std::optional<std::string> v;
  switch (impl_->kind) {
    case Kind::kJson: v = extractJson(answer, impl_->field); break;
    case Kind::kRegex: v = extractRegex(answer, *impl_->re); break;
    case Kind::kNumber: v = extractNumber(answer); break;
    case Kind::kChoice: v = extractChoice(answer); break;
    case Kind::kAnswer:
      v = extractChoice(answer);
      if (!v) v = extractNumber(answer);
      break;
    case Kind::kText: v = std::string(answer); break;
  }
  if (!v) return std::nullopt;
  std::string n = normalizeAnswer(*v);
  if (n.empty()) return std::nullopt;
  return n;
}

}  // namespace rightsize::routing
