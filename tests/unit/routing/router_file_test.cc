// The router file: round trip, and every kind of damage rejected with a clear error.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include <zlib.h>

#include "routing/router_model.h"
#include "routing/trainer.h"
#include "synthetic.h"

namespace rightsize::routing {
namespace {

const std::string& routerBytes() {
  static const std::string bytes = [] {
    auto opt = testing::fastOptions();
    opt.hash_bits = 10;
    auto r = train(testing::syntheticData(90), opt);
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->serialize() : std::string();
  }();
  return bytes;
}

void expectCorrupt(const std::string& bytes, const std::string& words) {
  auto r = RouterModel::parse(bytes, "test.rsr");
  ASSERT_FALSE(r) << "accepted a damaged file (" << words << ")";
  EXPECT_EQ(r.error().code, ErrorCode::kCorruptData);
  EXPECT_NE(r.error().message.find("test.rsr"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
}

TEST(RouterFile, RoundTripsToTheSameBytesAndPredictions) {
  const std::string& bytes = routerBytes();
  ASSERT_FALSE(bytes.empty());
  auto r = RouterModel::parse(bytes, "test.rsr");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->serialize(), bytes);
  EXPECT_EQ(r->models, (std::vector<std::string>{"small", "medium", "big"}));
}

TEST(RouterFile, SavesAndLoadsThroughTheFileSystem) {
  auto r = RouterModel::parse(routerBytes(), "x");
  ASSERT_TRUE(r);
  const std::string path = ::testing::TempDir() + "/rs_router_file_test.rsr";
  ASSERT_TRUE(r->save(path));
  auto back = RouterModel::load(path);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), routerBytes());
}

TEST(RouterFile, RejectsAFlippedByteWithAChecksumError) {
  std::string b = routerBytes();
  b[b.size() / 2] ^= 0x40;
  expectCorrupt(b, "checksum");
}

TEST(RouterFile, RejectsATruncatedFile) {
  const std::string& b = routerBytes();
  expectCorrupt(b.substr(0, b.size() - 1), "truncated");
  expectCorrupt(b.substr(0, b.size() / 2), "truncated");
  expectCorrupt(b.substr(0, 12), "truncated");
}

TEST(RouterFile, RejectsAnotherFormatVersionSayingWhichOne) {
  std::string b = routerBytes();
  b[8] = 99;  // the format version follows the 8-byte magic
  expectCorrupt(b, "format version 99");
}

TEST(RouterFile, RejectsAnotherFeatureVersion) {
  std::string b = routerBytes();
  b[12] = 42;
  expectCorrupt(b, "feature version 42");
}

TEST(RouterFile, RejectsSomethingThatIsNotARouterFile) {
  expectCorrupt("", "bad magic");
  expectCorrupt("{\"id\": 1}\n", "bad magic");
}

TEST(RouterFile, RejectsTrailingBytes) {
  expectCorrupt(routerBytes() + "xyz", "payload");
}

// A router file around `payload`: magic, versions, length, payload, CRC-32 (router_model.h).
std::string wrapPayload(const std::string& payload) {
  std::string b(kRouterMagic, 8);
  auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put(kRouterFormatVersion, 4);
  put(kFeatureVersion, 4);
  put(payload.size(), 8);
  b += payload;
  put(crc32(0, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())), 4);
  return b;
}

// Found by fuzz_router_model: a valid checksum around a header asking for 2^24 rows x 4,096
// outputs made the reader allocate 256 GB before it read a single row. The table is sparse in
// the file, so the reader must bound it itself.
TEST(RouterFile, RejectsAPredictorTableTooLargeToAllocate) {
  std::string p;
  auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) p.push_back(static_cast<char>((v >> (8 * i)) & 0xff)); };
  auto f64 = [&](double d) {
    uint64_t v;
    std::memcpy(&v, &d, 8);
    for (int i = 0; i < 8; ++i) p.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  u32(24);  // hash_bits
  u32(1);   // one model
  u32(1);
  p += "m";
  for (double d : {0.001, 0.0, 0.5, 0.001}) f64(d);  // cost base/per byte, mean score, mean cost
  f64(0.5);                                          // best single quality
  f64(0.001);                                        // cost scale
  for (size_t i = 0; i < 2 * kDenseFeatures; ++i) u32(0);
  u32(4096);  // head outputs
  p += std::string(64, '\0');
  expectCorrupt(wrapPayload(p), "too large");
}

TEST(RouterFile, ReportsAMissingFileAsAnIoErrorNamingThePath) {
  auto r = RouterModel::load("/nonexistent/dir/router.rsr");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_NE(r.error().message.find("/nonexistent/dir/router.rsr"), std::string::npos);
}

}  // namespace
}  // namespace rightsize::routing
