#include "ledger/response_store.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "ledger/sqlite_sink.h"
#include "unit/ledger/ledger_test_util.h"

namespace rightsize::ledger {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Runs `fn` (a coroutine) on a private io_context until it finishes.
template <class T>
T runAwait(std::function<asio::awaitable<T>()> fn) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await fn(); }, asio::detached);
  io.run();
  return std::move(*out);
}

StoredResponse response(std::string id, std::chrono::system_clock::time_point t, std::string key = "k") {
  return StoredResponse{std::move(id), t, std::move(key), false, R"([{"type":"message","role":"user","content":"q"}])",
                        R"({"id":"x","output":[]})"};
}

std::unique_ptr<LedgerSink> openSink(const std::filesystem::path& p) {
  auto sink = SqliteSink::open(p.string());
  EXPECT_TRUE(sink) << sink.error().message;
  return std::move(*sink);
}

TEST(ResponseStore, AGetAfterAPutSeesItAndAnUnknownIdIsNone) {
  testing::TempDir dir;
  ResponseStore store(openSink(dir.path / "l.db"), 24h);
  const auto now = std::chrono::system_clock::now();
  // put() never waits; the get() queued behind it still sees it (one ordered thread).
  for (int i = 0; i < 50; ++i) store.put(response("resp_" + std::to_string(i), now));
  auto got = runAwait<Result<std::optional<StoredResponse>>>([&] { return store.get("resp_49"); });
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->key_id, "k");
  auto none = runAwait<Result<std::optional<StoredResponse>>>([&] { return store.get("resp_nope"); });
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(store.counters().stored.load(), 50);
  EXPECT_EQ(store.counters().hits.load(), 1);
  EXPECT_EQ(store.counters().misses.load(), 1);
  auto removed = runAwait<Result<bool>>([&] { return store.remove("resp_3"); });
  EXPECT_TRUE(removed.value());
  auto again = runAwait<Result<bool>>([&] { return store.remove("resp_3"); });
  EXPECT_FALSE(again.value());
  EXPECT_EQ(store.counters().deleted.load(), 1);
}

TEST(ResponseStore, StopWritesEverythingQueued) {
  testing::TempDir dir;
  {
    ResponseStore store(openSink(dir.path / "l.db"), 24h);
    for (int i = 0; i < 200; ++i) store.put(response("resp_" + std::to_string(i), std::chrono::system_clock::now()));
    store.stop();
    store.stop();  // idempotent
    EXPECT_EQ(store.counters().stored.load(), 200);
  }
  auto sink = openSink(dir.path / "l.db");
  EXPECT_TRUE(sink->getResponse("resp_199").value().has_value());
}

TEST(ResponseStore, DeletesWhatIsPastTheRetentionAtStartAndOnPurge) {
  testing::TempDir dir;
  const auto now = std::chrono::system_clock::now();
  {
    auto sink = openSink(dir.path / "l.db");
    ASSERT_TRUE(sink->putResponse(response("resp_old", now - 49h)));
    ASSERT_TRUE(sink->putResponse(response("resp_new", now - 1h)));
  }
  ResponseStore store(openSink(dir.path / "l.db"), 48h);
  // The start-up purge runs before anything queued after it.
  auto old = runAwait<Result<std::optional<StoredResponse>>>([&] { return store.get("resp_old"); });
  EXPECT_FALSE(old.value().has_value());
  EXPECT_EQ(store.counters().purged.load(), 1);
  store.put(response("resp_aged", now - 50h));
  EXPECT_EQ(store.purgeNow().value(), 1);
  auto kept = runAwait<Result<std::optional<StoredResponse>>>([&] { return store.get("resp_new"); });
  EXPECT_TRUE(kept.value().has_value());
  EXPECT_EQ(store.counters().purged.load(), 2);
}

TEST(ResponseStore, ASinkThatFailsIsCountedNeverThrown) {
  // FakeSink keeps no responses: every operation fails.
  ResponseStore store(std::make_unique<testing::FakeSink>(), 24h);
  store.put(response("resp_1", std::chrono::system_clock::now()));
  auto got = runAwait<Result<std::optional<StoredResponse>>>([&] { return store.get("resp_1"); });
  EXPECT_FALSE(got);
  auto removed = runAwait<Result<bool>>([&] { return store.remove("resp_1"); });
  EXPECT_FALSE(removed);
  EXPECT_EQ(store.counters().put_errors.load(), 1);
  EXPECT_EQ(store.counters().get_errors.load(), 2);
  EXPECT_EQ(store.counters().stored.load(), 0);
}

}  // namespace
}  // namespace rightsize::ledger
