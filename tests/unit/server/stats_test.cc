#include "server/stats.h"

#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace rightsize::server {
namespace {

namespace json = boost::json;
using std::chrono::microseconds;
using std::chrono::seconds;

const auto kT0 = ledger::fromEpochMicros(1'800'000'000'000'000);  // a bucket boundary for 10 s buckets

ledger::LedgerRecord row(std::string route, std::string model, int status, ledger::Nanos cost, ledger::Nanos ref,
                         int64_t latency_us, std::chrono::system_clock::time_point t = kT0) {
  ledger::LedgerRecord r;
  r.time = t;
  r.route = std::move(route);
  r.model = std::move(model);
  r.status = status;
  r.cost_nanos = cost;
  r.reference_cost_nanos = ref;
  r.latency = microseconds(latency_us);
  r.attempts = 1;
  return r;
}

json::object snapshot(const Stats& s, std::chrono::system_clock::time_point now) {
  return json::parse(s.json(now)).as_object();
}

const json::object* find(const json::array& a, const char* field, std::string_view name) {
  for (const auto& v : a)
    if (v.as_object().at(field).as_string() == name) return &v.as_object();
  return nullptr;
}

TEST(Stats, PercentileIsNearestRankLikeTheReport) {
  EXPECT_EQ(Stats::percentile({}, 50), 0);
  EXPECT_EQ(Stats::percentile({7}, 99), 7);
  EXPECT_EQ(Stats::percentile({1, 2, 3, 4}, 50), 2);
  std::vector<int64_t> v;
  for (int i = 1; i <= 200; ++i) v.push_back(i);
  EXPECT_EQ(Stats::percentile(v, 50), 100);
  EXPECT_EQ(Stats::percentile(v, 99), 198);
}

TEST(Stats, TotalsAndBreakdownsSumTheRecordedRows) {
  Stats s({}, kT0);
  s.record(row("auto", "small", 200, 1'000, 10'000, 100));
  s.record(row("auto", "small", 200, 3'000, 30'000, 300));
  auto big = row("auto", "big", 200, 50'000, 50'000, 900);
  big.attempts = 2;
  big.stream = true;
  big.ttft = microseconds(40);
  big.key_id = "team-a";
  s.record(big);
  s.record(row("bad", "bad", 502, 0, 0, 200));
  s.record(row("nope", "", 404, 0, 0, 10));

  auto o = snapshot(s, kT0 + seconds(1));
  const auto& t = o.at("totals").as_object();
  EXPECT_EQ(t.at("requests").as_int64(), 5);
  EXPECT_EQ(t.at("errors").as_int64(), 2);
  EXPECT_EQ(t.at("retried").as_int64(), 1);
  EXPECT_EQ(t.at("streams").as_int64(), 1);
  EXPECT_EQ(t.at("spend_nanos").as_int64(), 54'000);
  EXPECT_EQ(t.at("reference_nanos").as_int64(), 90'000);
  EXPECT_DOUBLE_EQ(t.at("savings_usd").to_number<double>(), 36'000 / 1e9);

  const auto& routes = o.at("routes").as_array();
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].as_object().at("route").as_string(), "auto");  // most requests first
  EXPECT_EQ(routes[0].as_object().at("models").as_object().at("small").as_int64(), 2);
  EXPECT_EQ(routes[0].as_object().at("models").as_object().at("big").as_int64(), 1);

  const auto* small = find(o.at("models").as_array(), "model", "small");
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->at("requests").as_int64(), 2);
  EXPECT_EQ(small->at("spend_nanos").as_int64(), 4'000);

  EXPECT_EQ(o.at("keys_total").as_int64(), 2);
  const auto& keys = o.at("keys").as_array();
  EXPECT_EQ(keys[0].as_object().at("key").as_string(), "team-a");  // most spend first
  EXPECT_EQ(keys[1].as_object().at("key").as_string(), "(no key)");
  EXPECT_EQ(keys[1].as_object().at("requests").as_int64(), 4);

  EXPECT_EQ(o.at("statuses").as_object().at("502").as_int64(), 1);
  EXPECT_EQ(o.at("statuses").as_object().at("200").as_int64(), 3);

  const auto& lat = o.at("latency").as_object();
  EXPECT_EQ(lat.at("sample_size").as_int64(), 5);
  EXPECT_EQ(lat.at("p50_us").as_int64(), 200);  // sorted 10 100 200 300 900: rank 3
  EXPECT_EQ(lat.at("p99_us").as_int64(), 900);
  EXPECT_EQ(lat.at("ttft_sample_size").as_int64(), 1);
  EXPECT_EQ(lat.at("ttft_p50_us").as_int64(), 40);
}

TEST(Stats, TimelineBucketsRowsByArrivalAndDropsBucketsOutsideTheWindow) {
  Stats::Options opts;
  opts.bucket = seconds(10);
  opts.buckets = 6;  // one minute
  Stats s(opts, kT0);
  s.record(row("auto", "small", 200, 1, 2, 100, kT0));
  s.record(row("auto", "small", 200, 1, 2, 300, kT0 + seconds(9)));
  s.record(row("auto", "big", 500, 1, 2, 50, kT0 + seconds(25)));

  auto o = snapshot(s, kT0 + seconds(30));
  const auto& tl = o.at("timeline").as_array();
  ASSERT_EQ(tl.size(), 2u);
  const auto& b0 = tl[0].as_object();
  EXPECT_EQ(b0.at("t_us").as_int64(), ledger::toEpochMicros(kT0));
  EXPECT_EQ(b0.at("requests").as_int64(), 2);
  EXPECT_EQ(b0.at("models").as_object().at("small").as_int64(), 2);
  EXPECT_EQ(b0.at("p50_us").as_int64(), 100);
  EXPECT_EQ(b0.at("p99_us").as_int64(), 300);
  const auto& b1 = tl[1].as_object();
  EXPECT_EQ(b1.at("t_us").as_int64(), ledger::toEpochMicros(kT0 + seconds(20)));
  EXPECT_EQ(b1.at("errors").as_int64(), 1);

  // A minute later the first bucket has left the window; totals keep it.
  auto later = snapshot(s, kT0 + seconds(65));
  ASSERT_EQ(later.at("timeline").as_array().size(), 1u);
  EXPECT_EQ(later.at("totals").as_object().at("requests").as_int64(), 3);

  // A row that reuses a ring slot evicts the older bucket held there.
  s.record(row("auto", "small", 200, 1, 2, 100, kT0 + seconds(60)));
  auto evicted = snapshot(s, kT0 + seconds(65));
  const auto& tl2 = evicted.at("timeline").as_array();
  ASSERT_EQ(tl2.size(), 2u);
  EXPECT_EQ(tl2[1].as_object().at("t_us").as_int64(), ledger::toEpochMicros(kT0 + seconds(60)));
  EXPECT_EQ(tl2[1].as_object().at("requests").as_int64(), 1);
}

TEST(Stats, PercentilesCoverOnlyTheNewestSampleAcrossThreads) {
  Stats::Options opts;
  opts.sample = 100;
  Stats s(opts, kT0);
  // 4 threads x 50 old rows at 1 ms, then 100 new rows at 5 ms from one thread.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) s.record(row("r", "m", 200, 1, 1, 1000));
    });
  for (auto& th : threads) th.join();
  std::thread fresh([&] {
    for (int i = 0; i < 100; ++i) s.record(row("r", "m", 200, 1, 1, 5000 + i));
  });
  fresh.join();
  auto o = snapshot(s, kT0 + seconds(1));
  EXPECT_EQ(o.at("totals").as_object().at("requests").as_int64(), 300);
  const auto& lat = o.at("latency").as_object();
  EXPECT_EQ(lat.at("sample_size").as_int64(), 100);
  EXPECT_EQ(lat.at("p50_us").as_int64(), 5049);
  EXPECT_EQ(lat.at("p99_us").as_int64(), 5098);
}

TEST(Stats, NamesAreEscapedInTheJson) {
  Stats s({}, kT0);
  s.record(row("we\"ird\n", "m\\x", 200, 1, 1, 1));
  auto o = snapshot(s, kT0);
  EXPECT_EQ(o.at("routes").as_array()[0].as_object().at("route").as_string(), "we\"ird\n");
  EXPECT_EQ(o.at("models").as_array()[0].as_object().at("model").as_string(), "m\\x");
}

}  // namespace
}  // namespace rightsize::server
