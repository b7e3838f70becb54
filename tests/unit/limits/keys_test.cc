#include "limits/keys.h"

#include <gtest/gtest.h>

namespace rightsize::limits {
namespace {

TEST(Keys, GeneratedKeyParsesAndVerifies) {
  auto k = generateKey("team-a", KeyLimits{}, 1700000000);
  ASSERT_TRUE(k) << k.error().message;
  auto p = parseKey(k->secret_key);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, k->record.id);
  EXPECT_TRUE(verifySecret(k->record, p->secret));
  EXPECT_EQ(k->record.created_unix, 1700000000);
  EXPECT_EQ(k->record.name, "team-a");
}

TEST(Keys, StoredRecordHoldsNeitherTheKeyNorTheSecret) {
  auto k = generateKey("x", KeyLimits{}, 0);
  ASSERT_TRUE(k);
  auto p = parseKey(k->secret_key);
  const std::string json = keysFileJson({k->record});
  EXPECT_EQ(json.find(std::string(p->secret)), std::string::npos);
  EXPECT_EQ(json.find(k->secret_key), std::string::npos);
  EXPECT_EQ(k->record.hash_hex.size(), 64u);
  EXPECT_EQ(k->record.salt_hex.size(), 32u);
}

TEST(Keys, WrongSecretDoesNotVerify) {
  auto k = generateKey("x", KeyLimits{}, 0);
  ASSERT_TRUE(k);
  std::string other = std::string(parseKey(k->secret_key)->secret);
  other[0] = other[0] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(verifySecret(k->record, other));
  EXPECT_FALSE(verifySecret(k->record, ""));
}

TEST(Keys, SaltMakesHashesOfTheSameSecretDiffer) {
  const std::string secret(64, 'a');
  EXPECT_NE(hashSecret("00112233445566778899aabbccddeeff", secret), hashSecret("ffeeddccbbaa99887766554433221100", secret));
  // And the hash is SHA-256 over salt || secret (a known vector: sha256("abc")).
  EXPECT_EQ(hashSecret("a", "bc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Keys, TwoKeysNeverShareIdSaltOrSecret) {
  auto a = generateKey("a", KeyLimits{}, 0), b = generateKey("b", KeyLimits{}, 0);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->record.id, b->record.id);
  EXPECT_NE(a->record.salt_hex, b->record.salt_hex);
  EXPECT_NE(a->secret_key, b->secret_key);
}

TEST(Keys, MalformedKeysAreRejected) {
  EXPECT_FALSE(parseKey(""));
  EXPECT_FALSE(parseKey("sk-proj-abc"));
  EXPECT_FALSE(parseKey("rsk_0123456789ab_" + std::string(63, 'a')));        // short secret
  EXPECT_FALSE(parseKey("rsk_0123456789AB_" + std::string(64, 'a')));        // upper-case id
  EXPECT_FALSE(parseKey("rsk_0123456789ab-" + std::string(64, 'a')));        // bad separator
  EXPECT_FALSE(parseKey("rsk_0123456789ab_" + std::string(63, 'a') + "g"));  // non-hex
  EXPECT_TRUE(parseKey("rsk_0123456789ab_" + std::string(64, 'a')));
}

TEST(Keys, KeysFileRoundTrips) {
  KeyLimits l{1'500'000'000, 30'000'000'000, 60, 100000, 300};
  auto a = generateKey("with \"quotes\"", l, 5);
  auto b = generateKey("b", KeyLimits{}, 6);
  ASSERT_TRUE(a && b);
  b->record.revoked = true;
  auto parsed = parseKeysFile(keysFileJson({a->record, b->record}));
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0], a->record);
  EXPECT_EQ((*parsed)[1], b->record);
}

TEST(Keys, CorruptKeysFileIsAnErrorNamingTheProblem) {
  EXPECT_FALSE(parseKeysFile("not json"));
  auto r = parseKeysFile(R"({"keys":[{"id":"zz","name":"a","salt":"00","hash":"00"}]})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("keys[0]"), std::string::npos);
}

TEST(Keys, CreateRequestParsesLimitsAndRejectsBadFields) {
  auto r = parseCreateKeyRequest(R"({"name":"ci","usd_per_day":2.5,"requests_per_minute":10,"requests_per_day":300})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->name, "ci");
  EXPECT_EQ(r->limits.usd_per_day, 2'500'000'000);
  EXPECT_EQ(r->limits.requests_per_minute, 10);
  EXPECT_EQ(r->limits.requests_per_day, 300);
  EXPECT_EQ(r->limits.usd_per_month, 0);
  EXPECT_FALSE(parseCreateKeyRequest(R"({"usd_per_day":1})"));                 // no name
  EXPECT_FALSE(parseCreateKeyRequest(R"({"name":"a","usd_per_day":-1})"));     // negative
  EXPECT_FALSE(parseCreateKeyRequest(R"({"name":"a","rpm":5})"));              // unknown field
  EXPECT_FALSE(parseCreateKeyRequest(R"({"name":"a","requests_per_day":1.5})"));  // not an integer
  EXPECT_FALSE(parseCreateKeyRequest("[]"));
}

}  // namespace
}  // namespace rightsize::limits
