#include <gtest/gtest.h>

#include "config/config.h"

namespace rightsize::config {
namespace {

constexpr const char* kModels = "providers:\n  p: {kind: openai, base_url: \"http://h/v1\"}\nmodels:\n  m: {provider: p, id: x}\n";

Result<Config> parse(const std::string& limits) {
  return parseConfig(std::string(kModels) + limits, "config.yaml",
                     [](const std::string&) -> std::optional<std::string> { return std::nullopt; }, "/etc/rs");
}

TEST(LimitsConfig, DefaultsAreMemoryWithAKeysFileBesideTheConfigAndFailOpen) {
  auto c = parse("");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->limits.kind, config::LimitsKind::kMemory);
  EXPECT_EQ(c->limits.keys_file, "/etc/rs/rightsize-keys.json");
  EXPECT_EQ(c->limits.on_error, "open");
  EXPECT_EQ(c->limits.timeout, std::chrono::milliseconds(250));
}

TEST(LimitsConfig, ReadsKeysFileOnErrorAndTimeout) {
  auto c = parse("limits: {kind: redis, url: \"redis://r:6380\", on_error: closed, timeout_ms: 50}\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->limits.on_error, "closed");
  EXPECT_EQ(c->limits.timeout, std::chrono::milliseconds(50));
  auto f = parse("limits: {kind: memory, keys_file: keys/k.json}\n");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->limits.keys_file, "/etc/rs/keys/k.json");
}

TEST(LimitsConfig, BadValuesAreErrorsNamingTheKey) {
  auto a = parse("limits: {kind: redis, url: \"redis://r\", on_error: maybe}\n");
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message.find("on_error"), std::string::npos) << a.error().message;
  auto b = parse("limits: {kind: memory, timeout_ms: 0}\n");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("timeout_ms"), std::string::npos) << b.error().message;
  auto c = parse("limits: {kind: memory, keys_file: \"\"}\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("keys_file"), std::string::npos) << c.error().message;
}

}  // namespace
}  // namespace rightsize::config
