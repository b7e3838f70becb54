#pragma once
// Virtual API keys: their format, generation, salted hashing and verification, and the record
// a key store keeps for each (never the secret itself).
//
// A key reads "rsk_<id>_<secret>": <id> is 12 lowercase hex characters (6 random bytes), public,
// used to find the record; <secret> is 64 hex characters (32 random bytes from OpenSSL's
// RAND_bytes). The store keeps SHA-256(salt || secret) with a per-key 16-byte random salt.
// Why not PBKDF2/bcrypt: slow hashes protect low-entropy passwords; a 256-bit random secret
// cannot be brute-forced whatever the hash, so the work factor would only slow the request
// path. The salt still makes stored hashes unique per key. Verification compares in constant
// time (CRYPTO_memcmp).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/money.h"
#include "common/result.h"

namespace rightsize::limits {

using rightsize::Nanos;  // common/money.h

// Per-key limits; 0 means "no limit" for each.
struct KeyLimits {
  Nanos usd_per_day = 0;            // UTC calendar day
  Nanos usd_per_month = 0;          // UTC calendar month
  int64_t requests_per_minute = 0;  // rate limit (fixed one-minute windows)
  int64_t tokens_per_minute = 0;    // rate limit on prompt + completion tokens
  int64_t requests_per_day = 0;     // budget in requests (successful ones; UTC day)

  bool any() const {
    return usd_per_day || usd_per_month || requests_per_minute || tokens_per_minute || requests_per_day;
  }
  bool operator==(const KeyLimits&) const = default;
};

struct KeyRecord {
  std::string id;         // 12 hex chars, public
  std::string name;       // free text given at creation
  std::string salt_hex;   // 32 hex chars
  std::string hash_hex;   // 64 hex chars: SHA-256(salt || secret)
  KeyLimits limits;
  int64_t created_unix = 0;
  bool revoked = false;

  bool operator==(const KeyRecord&) const = default;
};

// A freshly generated key: the record to store and the full key to show once.
struct NewKey {
  KeyRecord record;
  std::string secret_key;  // "rsk_<id>_<secret>"
};

// The parts of a presented key; nullopt if it is not in the rsk_ format.
struct ParsedKey {
  std::string_view id;
  std::string_view secret;
};
std::optional<ParsedKey> parseKey(std::string_view key);

// Generates a key with random id, secret and salt. Fails only if the OS random source does.
Result<NewKey> generateKey(std::string name, KeyLimits limits, int64_t created_unix);

// Hex SHA-256 of salt || secret (salt given as hex).
std::string hashSecret(std::string_view salt_hex, std::string_view secret);

// True iff `secret` hashes to the record's hash (constant-time comparison).
bool verifySecret(const KeyRecord& rec, std::string_view secret);

// The keys one gateway knows, by id. Immutable once built; shared between threads.
struct KeyTable {
  std::map<std::string, std::shared_ptr<const KeyRecord>, std::less<>> by_id;
};

// Key records as JSON: one object {"id","name","salt","hash","created","revoked","limits":{...}}
// (limits in USD as numbers, counts as integers). Used by the file store, the CLI and the admin API.
std::string keyToJson(const KeyRecord& rec, bool with_hash);
std::string limitsToJson(const KeyLimits& l);

// Parses `{"keys":[...]}` as written by keysFileJson. Errors name what is wrong.
Result<std::vector<KeyRecord>> parseKeysFile(std::string_view json);
std::string keysFileJson(const std::vector<KeyRecord>& keys);

// The admin API's create body: {"name": "...", "usd_per_day": 1.5, "usd_per_month": 30,
// "requests_per_minute": 60, "tokens_per_minute": 100000, "requests_per_day": 1000}; every field
// but name optional (absent or 0: no limit). Unknown fields and wrong types are errors (400).
struct CreateKeyRequest {
  std::string name;
  KeyLimits limits;
};
Result<CreateKeyRequest> parseCreateKeyRequest(std::string_view json);

// A USD limit (from JSON / CLI) in nano-dollars; negative, NaN or absurd values are an error.
Result<Nanos> usdLimitToNanos(double usd, std::string_view what);

}  // namespace rightsize::limits
