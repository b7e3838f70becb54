#include <gtest/gtest.h>

#include <filesystem>

#include "limits/key_store.h"
#include "limits/keys.h"

namespace rightsize::limits {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("rs-keystore-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A gateway only reads its keys (every 500 ms): that must leave no file behind (issue 11 item 7:
// `rightsize serve` from a checkout left `rightsize-keys.json.lock` in `git status`).
TEST(FileKeyStore, ReadingCreatesNoFile) {
  TempDir dir;
  FileKeyStore store((dir.path / "rightsize-keys.json").string());
  auto keys = store.list();
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_TRUE(keys->empty());
  EXPECT_TRUE(fs::is_empty(dir.path));
}

TEST(FileKeyStore, AddThenListSeesTheKeyAndRevokeMarksIt) {
  TempDir dir;
  FileKeyStore store((dir.path / "keys.json").string());
  auto k = generateKey("ci", KeyLimits{}, 1'700'000'000);
  ASSERT_TRUE(k) << k.error().message;
  ASSERT_TRUE(store.add(k->record));
  auto keys = store.list();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].id, k->record.id);
  auto revoked = store.revoke(k->record.id);
  ASSERT_TRUE(revoked);
  EXPECT_TRUE(*revoked);
  EXPECT_TRUE(store.list().value()[0].revoked);
  EXPECT_FALSE(fs::exists(dir.path / "keys.json.tmp"));
}

}  // namespace
}  // namespace rightsize::limits
