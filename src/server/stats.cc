#include "server/stats.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/strings.h"

namespace rightsize::server {

namespace {

// Each thread keeps to one shard for its life, so a worker thread's record() takes a mutex no
// other thread touches (until there are more than kShards threads, when two share one).
size_t shardIndex(size_t shards) {
  static std::atomic<size_t> next{0};
  thread_local size_t mine = next.fetch_add(1, std::memory_order_relaxed);
  return mine % shards;
}

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string usd(ledger::Nanos n) { return fmt::format("{:.9f}", ledger::nanosToUsd(n)); }

void appendTotals(std::string& out, const Stats::Totals& t) {
  out += fmt::format(
      R"("requests":{},"errors":{},"retried":{},"streams":{},"tokens_in":{},"tokens_out":{},)"
      R"("cached_tokens":{},"reasoning_tokens":{},)"
      R"("spend_nanos":{},"reference_nanos":{},"spend_usd":{},"reference_spend_usd":{},"savings_usd":{})",
      t.requests, t.errors, t.retried, t.streams, t.tokens_in, t.tokens_out, t.cached_tokens, t.reasoning_tokens,
      t.spend_nanos, t.reference_nanos,
      usd(t.spend_nanos), usd(t.reference_nanos), usd(t.reference_nanos - t.spend_nanos));
}

void appendCounts(std::string& out, const Stats::CountMap& m) {
  out += '{';
  bool first = true;
  for (const auto& [name, n] : m) {
    if (!first) out += ',';
    first = false;
    appendJsonString(out, name);
    out += fmt::format(":{}", n);
  }
  out += '}';
}

void mergeCounts(Stats::CountMap& into, const Stats::CountMap& from) {
  for (const auto& [k, v] : from) into[k] += v;
}

void mergeGroups(Stats::GroupMap& into, const Stats::GroupMap& from) {
  for (const auto& [k, g] : from) {
    auto& dst = into[k];
    dst.totals.merge(g.totals);
    mergeCounts(dst.models, g.models);
  }
}

// Groups as a JSON array ordered by `key` (descending), ties by name; at most `limit` entries.
template <typename Key>
void appendGroups(std::string& out, const char* name_field, const Stats::GroupMap& groups, Key key, size_t limit) {
  std::vector<const Stats::GroupMap::value_type*> order;
  order.reserve(groups.size());
  for (const auto& entry : groups) order.push_back(&entry);
  std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) { return key(a->second) > key(b->second); });
  if (order.size() > limit) order.resize(limit);
  out += '[';
  for (size_t i = 0; i < order.size(); ++i) {
    if (i) out += ',';
    out += fmt::format(R"({{"{}":)", name_field);
    appendJsonString(out, order[i]->first);
    out += ',';
    appendTotals(out, order[i]->second.totals);
    out += R"(,"models":)";
    appendCounts(out, order[i]->second.models);
    out += '}';
  }
  out += ']';
}

Stats::Group& groupFor(Stats::GroupMap& m, std::string_view name) {
  auto it = m.find(name);
  if (it == m.end()) it = m.emplace(std::string(name), Stats::Group{}).first;
  return it->second;
}

void countIn(Stats::CountMap& m, std::string_view name) {
  auto it = m.find(name);
  if (it == m.end()) it = m.emplace(std::string(name), 0).first;
  ++it->second;
}

}  // namespace

void Stats::Totals::add(const ledger::LedgerRecord& r) {
  ++requests;
  if (r.status >= 400) ++errors;
  if (r.attempts > 1) ++retried;
  if (r.stream) ++streams;
  tokens_in += r.tokens_in;
  tokens_out += r.tokens_out;
  cached_tokens += r.cached_tokens;
  reasoning_tokens += r.reasoning_tokens;
  spend_nanos += r.cost_nanos;
  reference_nanos += r.reference_cost_nanos;
}

void Stats::Totals::merge(const Totals& o) {
  requests += o.requests;
  errors += o.errors;
  retried += o.retried;
  streams += o.streams;
  tokens_in += o.tokens_in;
  tokens_out += o.tokens_out;
  cached_tokens += o.cached_tokens;
  reasoning_tokens += o.reasoning_tokens;
  spend_nanos += o.spend_nanos;
  reference_nanos += o.reference_nanos;
}

int64_t Stats::percentile(const std::vector<int64_t>& sorted, int p) {
  const size_t n = sorted.size();
  if (n == 0) return 0;
  size_t rank = (static_cast<size_t>(p) * n + 99) / 100;
  if (rank < 1) rank = 1;
  return sorted[std::min(rank, n) - 1];
}

Stats::Stats(Options opts, std::chrono::system_clock::time_point started)
    : opts_(opts),
      bucket_us_(std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::microseconds>(opts.bucket).count())),
      started_us_(ledger::toEpochMicros(started)) {
  if (opts_.buckets == 0) opts_.buckets = 1;
}

void Stats::record(const ledger::LedgerRecord& r) {
  const uint64_t seq = seq_.fetch_add(1, std::memory_order_relaxed);
  const int64_t t_us = ledger::toEpochMicros(r.time);
  const int64_t index = floorDiv(t_us, bucket_us_);
  Shard& s = shards_[shardIndex(kShards)];
  std::lock_guard lock(s.mu);
  s.totals.add(r);
  groupFor(s.models, r.model).totals.add(r);
  auto& route = groupFor(s.routes, r.route);
  route.totals.add(r);
  countIn(route.models, r.model);
  auto& key = groupFor(s.keys, r.key_id.empty() ? std::string_view("(no key)") : std::string_view(r.key_id));
  key.totals.add(r);
  countIn(key.models, r.model);
  ++s.statuses[r.status];

  if (s.buckets.empty()) s.buckets.resize(opts_.buckets);
  Bucket& b = s.buckets[static_cast<size_t>(index % static_cast<int64_t>(opts_.buckets) + static_cast<int64_t>(opts_.buckets)) %
                        opts_.buckets];
  if (b.index < index) {  // the slot held an older bucket: reuse it
    b = Bucket{};
    b.index = index;
  }
  if (b.index == index) {  // else the row is older than the window: totals only
    b.totals.add(r);
    countIn(b.models, r.model);
  }

  if (opts_.sample > 0) {
    Sample sm{seq, t_us, r.latency.count(), r.ttft.count()};
    if (s.samples.size() < opts_.sample) {
      s.samples.push_back(sm);
    } else {
      s.samples[s.next_sample] = sm;
      s.next_sample = (s.next_sample + 1) % opts_.sample;
    }
  }
}

void Stats::recordShadow(const ledger::ShadowGradeRecord& g) {
  std::lock_guard lock(shadow_mu_);
  shadow_[{g.route, g.model}].add(g.result, g.served_score, g.yardstick_score, g.cost_nanos);
}

std::string Stats::json(std::chrono::system_clock::time_point now) const {
  Totals totals;
  GroupMap models, routes, keys;
  std::map<int, int64_t> statuses;
  std::map<int64_t, Bucket> buckets;  // by index
  std::vector<Sample> samples;
  const int64_t now_us = ledger::toEpochMicros(now);
  const int64_t now_index = floorDiv(now_us, bucket_us_);
  const int64_t first_index = now_index - static_cast<int64_t>(opts_.buckets) + 1;

  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    totals.merge(s.totals);
    mergeGroups(models, s.models);
    mergeGroups(routes, s.routes);
    mergeGroups(keys, s.keys);
    for (const auto& [code, n] : s.statuses) statuses[code] += n;
    for (const Bucket& b : s.buckets) {
      if (b.index < first_index || b.index > now_index) continue;
      auto& dst = buckets[b.index];
      dst.index = b.index;
      dst.totals.merge(b.totals);
      mergeCounts(dst.models, b.models);
    }
    samples.insert(samples.end(), s.samples.begin(), s.samples.end());
  }

  // The newest `sample` rows over all shards (each shard holds at least its share of them).
  if (samples.size() > opts_.sample) {
    std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(samples.size() - opts_.sample),
                     samples.end(), [](const Sample& a, const Sample& b) { return a.seq < b.seq; });
    samples.erase(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(samples.size() - opts_.sample));
  }
  std::vector<int64_t> latencies, ttfts;
  latencies.reserve(samples.size());
  std::map<int64_t, std::vector<int64_t>> bucket_latencies;
  for (const Sample& sm : samples) {
    latencies.push_back(sm.latency_us);
    if (sm.ttft_us >= 0) ttfts.push_back(sm.ttft_us);
    const int64_t index = floorDiv(sm.time_us, bucket_us_);
    if (buckets.count(index)) bucket_latencies[index].push_back(sm.latency_us);
  }
  std::sort(latencies.begin(), latencies.end());
  std::sort(ttfts.begin(), ttfts.end());

  std::string out;
  out.reserve(4096);
  out += fmt::format(R"({{"version":1,"now_us":{},"started_us":{},"bucket_seconds":{},"window_buckets":{},)", now_us,
                     started_us_, bucket_us_ / 1000000.0, opts_.buckets);
  out += R"("totals":{)";
  appendTotals(out, totals);
  out += "},";
  out += fmt::format(
      R"("latency":{{"sample_size":{},"p50_us":{},"p99_us":{},"ttft_sample_size":{},"ttft_p50_us":{},"ttft_p99_us":{}}},)",
      latencies.size(), percentile(latencies, 50), percentile(latencies, 99), ttfts.size(), percentile(ttfts, 50),
      percentile(ttfts, 99));
  out += R"("statuses":{)";
  bool first = true;
  for (const auto& [code, n] : statuses) {
    out += fmt::format(R"({}"{}":{})", first ? "" : ",", code, n);
    first = false;
  }
  out += R"(},"models":)";
  appendGroups(out, "model", models, [](const Group& g) { return g.totals.requests; }, models.size());
  out += R"(,"routes":)";
  appendGroups(out, "route", routes, [](const Group& g) { return g.totals.requests; }, routes.size());
  out += fmt::format(R"(,"keys_total":{},"keys":)", keys.size());
  appendGroups(out, "key", keys, [](const Group& g) { return g.totals.spend_nanos; }, opts_.top_keys);
  out += R"(,"timeline":[)";
  first = true;
  for (auto& [index, b] : buckets) {
    if (!first) out += ',';
    first = false;
    auto& lat = bucket_latencies[index];
    std::sort(lat.begin(), lat.end());
    out += fmt::format(R"({{"t_us":{},)", index * bucket_us_);
    appendTotals(out, b.totals);
    out += fmt::format(R"(,"latency_samples":{},"p50_us":{},"p99_us":{},"models":)", lat.size(), percentile(lat, 50),
                       percentile(lat, 99));
    appendCounts(out, b.models);
    out += '}';
  }
  // Shadow evaluation since start: quality relative to the yardstick with its 95% interval
  // (ledger/shadow_quality.h, the report's arithmetic).
  out += R"(],"shadow":[)";
  {
    std::lock_guard lock(shadow_mu_);
    first = true;
    auto num = [](const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string("null"); };
    for (const auto& [key, t] : shadow_) {
      const ledger::ShadowQuality q = ledger::estimateQuality(t);
      out += fmt::format(R"({}{{"route":{},"model":{},"grade":"{}","n":{},"errors":{},"quality":{},"quality_low":{},)"
                         R"("quality_high":{},"shadow_spend_nanos":{},"shadow_spend_usd":{}}})",
                         first ? "" : ",", jsonString(key.first), jsonString(key.second), q.kind, q.n, t.errors,
                         num(q.value), num(q.low), num(q.high), t.cost_nanos, nanosToUsd(t.cost_nanos));
      first = false;
    }
  }
  out += "]}";
  return out;
}

}  // namespace rightsize::server
