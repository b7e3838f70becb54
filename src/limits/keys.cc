#include "limits/keys.h"

#include <cmath>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <simdjson.h>

#include "common/strings.h"

namespace rightsize::limits {

namespace {

constexpr std::string_view kPrefix = "rsk_";
constexpr size_t kIdBytes = 6, kSecretBytes = 32, kSaltBytes = 16;

bool isLowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string toHex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

Result<std::string> randomHex(size_t bytes) {
  unsigned char buf[64];
  if (bytes > sizeof buf || RAND_bytes(buf, static_cast<int>(bytes)) != 1)
    return fail(ErrorCode::kInternal, "the OS random source failed (RAND_bytes)");
  return toHex(buf, bytes);
}

}  // namespace

std::optional<ParsedKey> parseKey(std::string_view key) {
  if (key.size() != kPrefix.size() + 2 * kIdBytes + 1 + 2 * kSecretBytes) return std::nullopt;
  if (key.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view id = key.substr(kPrefix.size(), 2 * kIdBytes);
  if (key[kPrefix.size() + 2 * kIdBytes] != '_') return std::nullopt;
  std::string_view secret = key.substr(kPrefix.size() + 2 * kIdBytes + 1);
  if (!isLowerHex(id) || !isLowerHex(secret)) return std::nullopt;
  return ParsedKey{id, secret};
}

std::string hashSecret(std::string_view salt_hex, std::string_view secret) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, salt_hex.data(), salt_hex.size());
  EVP_DigestUpdate(ctx, secret.data(), secret.size());
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return toHex(md, len);
}

bool verifySecret(const KeyRecord& rec, std::string_view secret) {
  const std::string h = hashSecret(rec.salt_hex, secret);
  return h.size() == rec.hash_hex.size() && CRYPTO_memcmp(h.data(), rec.hash_hex.data(), h.size()) == 0;
}

Result<NewKey> generateKey(std::string name, KeyLimits limits, int64_t created_unix) {
  auto id = randomHex(kIdBytes);
  auto secret = randomHex(kSecretBytes);
  auto salt = randomHex(kSaltBytes);
  if (!id || !secret || !salt) return fail(ErrorCode::kInternal, "the OS random source failed (RAND_bytes)");
  NewKey k;
  k.record.id = *id;
  k.record.name = std::move(name);
  k.record.salt_hex = *salt;
  k.record.hash_hex = hashSecret(*salt, *secret);
  k.record.limits = limits;
  k.record.created_unix = created_unix;
  k.secret_key = std::string(kPrefix) + *id + "_" + *secret;
  return k;
}

Result<Nanos> usdLimitToNanos(double usd, std::string_view what) {
  if (!std::isfinite(usd) || usd < 0 || usd > 1e9)
    return fail(ErrorCode::kInvalidArgument, fmt::format("{}: must be a number of USD in [0, 1e9]", what));
  return rightsize::usdToNanos(usd);
}

std::string limitsToJson(const KeyLimits& l) {
  return fmt::format(
      R"({{"usd_per_day":{},"usd_per_month":{},"requests_per_minute":{},"tokens_per_minute":{},"requests_per_day":{}}})",
      nanosToUsd(l.usd_per_day), nanosToUsd(l.usd_per_month), l.requests_per_minute, l.tokens_per_minute,
      l.requests_per_day);
}

std::string keyToJson(const KeyRecord& rec, bool with_hash) {
  std::string out = "{\"id\":" + jsonString(rec.id) + ",\"name\":" + jsonString(rec.name);
  if (with_hash) out += ",\"salt\":" + jsonString(rec.salt_hex) + ",\"hash\":" + jsonString(rec.hash_hex);
  out += fmt::format(R"(,"created":{},"revoked":{},"limits":{}}})", rec.created_unix, rec.revoked ? "true" : "false",
                     limitsToJson(rec.limits));
  return out;
}

std::string keysFileJson(const std::vector<KeyRecord>& keys) {
  std::string out = "{\"version\":1,\"keys\":[\n";
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? ",\n" : "") + keyToJson(keys[i], true);
  out += "\n]}\n";
  return out;
}

Result<std::vector<KeyRecord>> parseKeysFile(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root)) return fail(ErrorCode::kCorruptData, "keys file: not valid JSON");
  simdjson::dom::array arr;
  if (root["keys"].get_array().get(arr)) return fail(ErrorCode::kCorruptData, "keys file: no \"keys\" array");
  std::vector<KeyRecord> out;
  size_t i = 0;
  for (simdjson::dom::element e : arr) {
    KeyRecord r;
    std::string_view s;
    const std::string where = fmt::format("keys file: keys[{}]", i++);
    auto str = [&](const char* f, std::string& dst) {
      if (e[f].get_string().get(s)) return false;
      dst.assign(s);
      return true;
    };
    if (!str("id", r.id) || !str("name", r.name) || !str("salt", r.salt_hex) || !str("hash", r.hash_hex))
      return fail(ErrorCode::kCorruptData, where + ": id, name, salt and hash must be strings");
    if (r.id.size() != 2 * kIdBytes || !isLowerHex(r.id) || r.hash_hex.size() != 64 || !isLowerHex(r.hash_hex))
      return fail(ErrorCode::kCorruptData, where + ": malformed id or hash");
    if (e["created"].get_int64().get(r.created_unix) || e["revoked"].get_bool().get(r.revoked))
      return fail(ErrorCode::kCorruptData, where + ": created must be an integer and revoked a boolean");
    simdjson::dom::element lim;
    if (e["limits"].get(lim)) return fail(ErrorCode::kCorruptData, where + ": no limits");
    double day = 0, month = 0;
    if (lim["usd_per_day"].get_double().get(day) || lim["usd_per_month"].get_double().get(month) ||
        lim["requests_per_minute"].get_int64().get(r.limits.requests_per_minute) ||
        lim["tokens_per_minute"].get_int64().get(r.limits.tokens_per_minute) ||
        lim["requests_per_day"].get_int64().get(r.limits.requests_per_day))
      return fail(ErrorCode::kCorruptData, where + ": limits need usd_per_day, usd_per_month (numbers), "
                                                   "requests_per_minute, tokens_per_minute, requests_per_day (integers)");
    auto d = usdLimitToNanos(day, where + ".usd_per_day");
    auto m = usdLimitToNanos(month, where + ".usd_per_month");
    if (!d) return fail(d.error());
    if (!m) return fail(m.error());
    r.limits.usd_per_day = *d;
    r.limits.usd_per_month = *m;
    out.push_back(std::move(r));
  }
  return out;
}

Result<CreateKeyRequest> parseCreateKeyRequest(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root)) return fail(ErrorCode::kMalformedJson, "the body is not valid JSON");
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return fail(ErrorCode::kInvalidArgument, "the body must be a JSON object");
  CreateKeyRequest out;
  bool have_name = false;
  for (auto field : obj) {
    const std::string_view k = field.key;
    if (k == "name") {
      std::string_view v;
      if (field.value.get_string().get(v) || v.empty() || v.size() > 200)
        return fail(ErrorCode::kInvalidArgument, "name: must be a non-empty string of at most 200 bytes");
      out.name.assign(v);
      have_name = true;
    } else if (k == "usd_per_day" || k == "usd_per_month") {
      double v = 0;
      if (field.value.get_double().get(v)) return fail(ErrorCode::kInvalidArgument, std::string(k) + ": must be a number");
      auto n = usdLimitToNanos(v, k);
      if (!n) return fail(n.error());
      (k == "usd_per_day" ? out.limits.usd_per_day : out.limits.usd_per_month) = *n;
    } else if (k == "requests_per_minute" || k == "tokens_per_minute" || k == "requests_per_day") {
      int64_t v = 0;
      if (field.value.get_int64().get(v) || v < 0)
        return fail(ErrorCode::kInvalidArgument, std::string(k) + ": must be a non-negative integer");
      (k == "requests_per_minute" ? out.limits.requests_per_minute
       : k == "tokens_per_minute" ? out.limits.tokens_per_minute
                                  : out.limits.requests_per_day) = v;
    } else {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("unknown field '{}' (expected name, usd_per_day, usd_per_month, requests_per_minute, "
                              "tokens_per_minute, requests_per_day)", k));
    }
  }
  if (!have_name) return fail(ErrorCode::kInvalidArgument, "name: required");
  return out;
}

}  // namespace rightsize::limits
