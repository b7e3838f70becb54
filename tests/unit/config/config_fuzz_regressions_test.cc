// Inputs fuzz/config_fuzzer.cc found that used to hang or crash parseConfig, kept as regressions.
// Each must now end, quickly, in a clear error naming the source and line.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "config/config.h"
#include "unit/config/config_test_util.h"

namespace rightsize::config {
namespace {

using testing::errorOf;
using testing::kMinimalModels;
using ::testing::StartsWith;

// errorOf() on another thread, failing (instead of hanging the suite) after 5 s.
std::string errorWithin5s(const std::string& yaml) {
  auto f = std::async(std::launch::async, [yaml] { return errorOf(yaml); });
  if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    ADD_FAILURE() << "parseConfig did not return within 5 s for: " << yaml;
    std::quick_exit(1);  // the stuck thread cannot be joined
  }
  return f.get();
}

// yaml-cpp 0.7's YAML::LoadAll loops forever, allocating, on a stray top-level ','
// (jbeder/yaml-cpp#1040). Found by the fuzzer as ",,,,,,,,,,,,,,,,,,,,,[];".
TEST(ConfigFuzzRegressions, StrayTopLevelCommaIsASyntaxErrorNotAHang) {
  EXPECT_EQ(errorWithin5s(",,,,,,,,,,,,,,,,,,,,,[];"), "config.yaml:1: YAML syntax error: unexpected ','");
  EXPECT_EQ(errorWithin5s(","), "config.yaml:1: YAML syntax error: unexpected ','");
  EXPECT_THAT(errorWithin5s("{a: 1},"), StartsWith("config.yaml:1: YAML syntax error"));
  EXPECT_THAT(errorWithin5s(std::string(kMinimalModels) + ",\n"), StartsWith("config.yaml:"));
}

TEST(ConfigFuzzRegressions, DocumentCountingStillWorks) {
  EXPECT_EQ(errorWithin5s(std::string(kMinimalModels) + "---\nserver: {}\n---\n{}\n"),
            "config.yaml:7: a config file holds one YAML document, found 3");
  EXPECT_TRUE(testing::parse(std::string("---\n") + kMinimalModels + "...\n"));
  EXPECT_TRUE(testing::parse(kMinimalModels));
}

}  // namespace
}  // namespace rightsize::config
