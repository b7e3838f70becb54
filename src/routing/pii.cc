#include "routing/pii.h"

#include <cctype>
#include <cstring>

#include <re2/re2.h>
#include <re2/set.h>

namespace rightsize::routing {

namespace {

constexpr std::string_view kKindNames[kPiiKindCount] = {"email", "phone", "payment_card", "iban", "national_id",
                                                        "secret"};

// One pattern per kind; group 1 is the candidate. RE2 has no look-around, so the
// boundaries (what may stand right before and after a finding) are checked in code.
constexpr const char* kPatterns[kPiiKindCount] = {
    // email
    R"(([A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}))",
    // phone: international (+CC ...) first, then North American (NXX) NXX-XXXX with separators
    R"((\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{1,4}){1,5}|(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}))",
    // payment card: 13-19 digits, optionally grouped by spaces or dashes
    R"((\d(?:[ -]?\d){12,18}))",
    // IBAN: country, check digits, 11-30 alphanumerics (groups of four separated by spaces allowed)
    R"(([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}))",
    // national IDs: US SSN, UK NINO, Spanish DNI
    R"((\d{3}-\d{2}-\d{4}|[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]|\d{8}-?[A-Z]))",
    // secrets: OpenAI/Anthropic, AWS access key ids, GitHub, Slack, Google, Stripe, PEM private keys, JWTs
    R"((sk-(?:proj-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|(?:sk|rk)_live_[0-9A-Za-z]{24,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}))",
};

bool isAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string digitsOf(std::string_view s) {
  std::string out;
  for (char c : s)
    if (isDigit(c)) out.push_back(c);
  return out;
}

std::string alnumOf(std::string_view s) {
  std::string out;
  for (char c : s)
    if (isAlnum(c)) out.push_back(c);
  return out;
}

// The characters around a finding: a finding glued to more of the same (a longer number, a
// longer word, an identifier) is part of something else.
struct Around {
  char before = 0;  // 0 at the start of the text
  char after = 0;   // 0 at the end
  char after2 = 0;  // the character after `after`
};

bool emailOk(std::string_view m, Around a) {
  if (isAlnum(a.after) || a.after == '@') return false;
  // name@2x.png and friends: file names, not addresses.
  static constexpr std::string_view kFileTlds[] = {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp"};
  std::string_view tld = m.substr(m.rfind('.') + 1);
  std::string lower;
  for (char c : tld) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  for (auto t : kFileTlds)
    if (lower == t) return false;
  return true;
}

bool phoneOk(std::string_view m, Around a) {
  // Glued to a word, an identifier ("#", "/", "-", "."), or more digits: an order number, a
  // date, a version, a path.
  if (isAlnum(a.before) || (a.before != 0 && std::strchr("#/-._:=+", a.before) != nullptr)) return false;
  // More number follows: "555-123-4567-89", "555.123.4567.8".
  if (isAlnum(a.after) || a.after == '-' || a.after == '/') return false;
  if (a.after == '.' && isDigit(a.after2)) return false;  // a sentence may end after a number; "4567.8" is not one
  const std::string d = digitsOf(m);
  if (m.front() == '+') return d.size() >= 8 && d.size() <= 15;
  // North American numbers: area code and exchange start with 2-9.
  if (d.size() != 10) return false;
  return d[0] >= '2' && d[3] >= '2';
}

bool cardOk(std::string_view m, Around a) {
  if (isAlnum(a.before) || a.before == '-' || a.before == '.' || a.before == '#') return false;
  if (isAlnum(a.after) || a.after == '-') return false;
  // Separators, if any, must be one kind, used in groups (4-4-4-4, 4-6-5, ...), not scattered.
  bool space = false, dash = false;
  for (char c : m) {
    space |= c == ' ';
    dash |= c == '-';
  }
  if (space && dash) return false;
  return validPaymentCard(digitsOf(m));
}

bool ibanOk(std::string_view m, Around a) {
  if (isAlnum(a.before)) return false;
  std::string s = alnumOf(m);
  // Known lengths: the pattern may have run on into the next word ("... 00 FOR rent").
  static constexpr std::pair<std::string_view, size_t> kLengths[] = {
      {"AT", 20}, {"BE", 16}, {"CH", 21}, {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"ES", 24}, {"FI", 18},
      {"FR", 27}, {"GB", 22}, {"IE", 22}, {"IT", 27}, {"LU", 20}, {"NL", 18}, {"NO", 15}, {"PL", 28},
      {"PT", 25}, {"SE", 24}, {"GR", 27}, {"HU", 28}, {"RO", 24}, {"SK", 24}, {"SI", 19}, {"HR", 21}};
  for (auto [cc, len] : kLengths) {
    if (s.compare(0, 2, cc) != 0) continue;
    if (s.size() < len) return false;
    if (s.size() == len && isAlnum(a.after)) return false;
    return ibanValid(std::string_view(s).substr(0, len));
  }
  if (isAlnum(a.after)) return false;
  return s.size() >= 15 && s.size() <= 34 && ibanValid(s);
}

bool nationalIdOk(std::string_view m, Around a) {
  if (isAlnum(a.before) || a.before == '-' || a.before == '#') return false;
  if (isAlnum(a.after) || a.after == '-') return false;
  if (m.size() == 11 && m[3] == '-' && m[6] == '-') {  // US SSN
    const int area = std::stoi(std::string(m.substr(0, 3)));
    const int group = std::stoi(std::string(m.substr(4, 2)));
    const int serial = std::stoi(std::string(m.substr(7, 4)));
    return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
  }
  if (isDigit(m.front())) {  // Spanish DNI: 8 digits and a check letter
    const std::string d = digitsOf(m);
    static constexpr std::string_view kLetters = "TRWAGMYFPDXBNJZSQVHLCKE";
    return d.size() == 8 && kLetters[std::stoul(d) % 23] == m.back();
  }
  // UK NINO: some prefixes are never issued.
  const std::string prefix(m.substr(0, 2));
  static constexpr std::string_view kNever[] = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"};
  for (auto p : kNever)
    if (prefix == p) return false;
  return true;
}

bool secretOk(std::string_view m, Around a) {
  if (m.front() == '-') return true;  // PEM header
  return !isAlnum(a.before) && a.before != '-' && a.before != '_';
}

using Validator = bool (*)(std::string_view, Around);
constexpr Validator kValidators[kPiiKindCount] = {emailOk, phoneOk, cardOk, ibanOk, nationalIdOk, secretOk};

}  // namespace

struct PiiDetector::Impl {
  std::vector<PiiKind> kinds;                    // set index -> kind
  std::vector<std::unique_ptr<re2::RE2>> res;    // same indexing
  std::unique_ptr<re2::RE2::Set> prefilter;      // one pass over the text for all kinds
};

std::string_view piiKindName(PiiKind k) { return kKindNames[static_cast<size_t>(k)]; }

std::optional<PiiKind> piiKindFromName(std::string_view name) {
  for (size_t i = 0; i < kPiiKindCount; ++i)
    if (kKindNames[i] == name) return static_cast<PiiKind>(i);
  return std::nullopt;
}

bool luhnValid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool dbl = false;
  for (size_t i = digits.size(); i-- > 0;) {
    if (!isDigit(digits[i])) return false;
    int d = digits[i] - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

bool validPaymentCard(std::string_view d) {
  if (d.size() < 13 || d.size() > 19) return false;
  auto starts = [&](std::string_view p) { return d.substr(0, p.size()) == p; };
  const int two = (d[0] - '0') * 10 + (d[1] - '0');
  const int four = std::stoi(std::string(d.substr(0, 4)));
  const bool issuer = d[0] == '4'                                   // Visa
                      || (two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)  // Mastercard
                      || two == 34 || two == 37                     // Amex
                      || starts("6011") || two == 65 || (four >= 6440 && four <= 6499)  // Discover
                      || two == 35                                  // JCB
                      || two == 36 || two == 38 || (four >= 3000 && four <= 3059)      // Diners
                      || two == 62;                                 // UnionPay
  return issuer && luhnValid(d);
}

bool ibanValid(std::string_view iban) {
  if (iban.size() < 15 || iban.size() > 34) return false;
  if (!std::isupper(static_cast<unsigned char>(iban[0])) || !std::isupper(static_cast<unsigned char>(iban[1])) ||
      !isDigit(iban[2]) || !isDigit(iban[3]))
    return false;
  // Move the first four characters to the end, letters -> 10..35, then mod 97 must be 1.
  int rem = 0;
  auto feed = [&](char c) -> bool {
    if (isDigit(c)) {
      rem = (rem * 10 + (c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      const int v = c - 'A' + 10;
      rem = (rem * 100 + v) % 97;
    } else {
      return false;
    }
    return true;
  };
  for (size_t i = 4; i < iban.size(); ++i)
    if (!feed(iban[i])) return false;
  for (size_t i = 0; i < 4; ++i)
    if (!feed(iban[i])) return false;
  return rem == 1;
}

Result<std::unique_ptr<PiiDetector>> PiiDetector::make(std::span<const PiiKind> kinds) {
  std::unique_ptr<PiiDetector> d(new PiiDetector());
  d->impl_ = std::make_unique<Impl>();
  std::vector<PiiKind> use(kinds.begin(), kinds.end());
  if (use.empty())
    for (size_t i = 0; i < kPiiKindCount; ++i) use.push_back(static_cast<PiiKind>(i));
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  d->impl_->prefilter = std::make_unique<re2::RE2::Set>(opts, re2::RE2::UNANCHORED);
  for (PiiKind k : use) {
    const char* pattern = kPatterns[static_cast<size_t>(k)];
    auto re = std::make_unique<re2::RE2>(pattern, opts);
    if (!re->ok()) return fail(ErrorCode::kInternal, "pii pattern for " + std::string(piiKindName(k)) + ": " + re->error());
    std::string err;
    if (d->impl_->prefilter->Add(pattern, &err) < 0)
      return fail(ErrorCode::kInternal, "pii prefilter for " + std::string(piiKindName(k)) + ": " + err);
    d->impl_->kinds.push_back(k);
    d->impl_->res.push_back(std::move(re));
  }
  if (!d->impl_->prefilter->Compile()) return fail(ErrorCode::kInternal, "pii prefilter does not compile");
  return d;
}

PiiDetector::~PiiDetector() = default;

PiiScan PiiDetector::scan(std::string_view text) const {
  PiiScan out;
  scanInto(text, out);
  return out;
}

void PiiDetector::scanInto(std::string_view text, PiiScan& out) const {
  if (text.empty()) return;
  std::vector<int> hit;
  // One DFA pass tells which kinds may be present; only those are searched for their spans.
  // If that pass gives up (DFA out of memory), every kind is searched: never fail open.
  re2::RE2::Set::ErrorInfo info{};
  if (!impl_->prefilter->Match(re2::StringPiece(text.data(), text.size()), &hit, &info)) {
    if (info.kind != re2::RE2::Set::kOutOfMemory) return;
    hit.clear();
    for (size_t i = 0; i < impl_->kinds.size(); ++i) hit.push_back(static_cast<int>(i));
  }
  for (int idx : hit) {
    const PiiKind kind = impl_->kinds[static_cast<size_t>(idx)];
    const re2::RE2& re = *impl_->res[static_cast<size_t>(idx)];
    re2::StringPiece input(text.data(), text.size());
    re2::StringPiece m;
    while (re2::RE2::FindAndConsume(&input, re, &m)) {
      const size_t start = static_cast<size_t>(m.data() - text.data());
      const size_t end = start + m.size();
      Around a;
      if (start > 0) a.before = text[start - 1];
      if (end < text.size()) a.after = text[end];
      if (end + 1 < text.size()) a.after2 = text[end + 1];
      if (kValidators[static_cast<size_t>(kind)](std::string_view(m.data(), m.size()), a))
        ++out.counts[static_cast<size_t>(kind)];
      if (m.empty()) break;  // cannot happen with these patterns; never loop forever
    }
  }
}

}  // namespace rightsize::routing
