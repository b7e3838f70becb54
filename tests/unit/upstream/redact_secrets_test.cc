// redactSecrets: provider credentials an upstream echoes back in an error message never reach the
// gateway's logs or clients (tests/node/test/secrets.test.js checks the same end to end).
#include <gtest/gtest.h>

#include "upstream/provider.h"

namespace rightsize::upstream {
namespace {

TEST(RedactSecrets, RemovesTheApiKeyAndLongHeaderValuesEverywhereInTheMessage) {
  config::ProviderConfig cfg;
  cfg.name = "up";
  cfg.api_key = "sk-live-1234567890";
  cfg.headers = {{"x-api-key", "hdr-secret-abcdef"}, {"x-short", "v1"}};
  auto e = statusError("up", 401,
                       R"({"error":{"message":"bad key Bearer sk-live-1234567890 (x-api-key: hdr-secret-abcdef), again sk-live-1234567890; v1"}})",
                       std::nullopt);
  auto r = redactSecrets(e, cfg);
  EXPECT_EQ(r.error.message,
            "upstream up returned 401: bad key Bearer [redacted] (x-api-key: [redacted]), again [redacted]; v1");
  EXPECT_EQ(r.error.upstream_status, 401);
  EXPECT_EQ(r.retryable, e.retryable);
}

TEST(RedactSecrets, LeavesMessagesWithoutSecretsAndEmptyKeysAlone) {
  config::ProviderConfig cfg;
  auto e = statusError("up", 500, "plain text failure", std::nullopt);
  EXPECT_EQ(redactSecrets(e, cfg).error.message, "upstream up returned 500: plain text failure");
}

}  // namespace
}  // namespace rightsize::upstream
