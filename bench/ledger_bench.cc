// Ledger benchmark: rows/s into SQLite (a file, WAL) through LedgerWriter, and the
// latency of submit() while the writer thread is busy. Plain main(): prints numbers.
//
//   rs_ledger_bench [records=200000] [dir=/tmp]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <time.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/ids.h"
#include "ledger/sqlite_sink.h"
#include "ledger/writer.h"

using namespace rightsize::ledger;
using Clock = std::chrono::steady_clock;

namespace {

LedgerRecord makeRecord(int64_t i) {
  LedgerRecord r;
  r.time = std::chrono::system_clock::now();
  // Random ids, as the gateway makes them (common/ids.h): their index inserts land anywhere in
  // the B-tree, unlike sequential ids.
  r.request_id = rightsize::newRequestId();
  r.key_id = fmt::format("key-{}", i % 50);
  r.route = i % 3 ? "chat" : "extract";
  r.model = i % 5 ? "llama-3.1-8b" : "gpt-4o";
  r.provider = i % 5 ? "local-vllm" : "openai";
  r.candidates = "llama-3.1-8b,gpt-4o-mini,gpt-4o";
  r.knob = 0.7;
  r.decision = std::chrono::microseconds(6);
  r.tokens_in = 250 + i % 700;
  r.tokens_out = 40 + i % 300;
  r.cost_nanos = 1234 + i % 1000;
  r.reference_model = "gpt-4o";
  r.reference_cost_nanos = 98765 + i % 1000;
  r.latency = std::chrono::microseconds(180'000 + i % 1000);
  r.ttft = i % 2 ? std::chrono::microseconds(35'000) : std::chrono::microseconds(-1);
  r.status = 200;
  r.attempts = 1;
  r.stream = i % 2;
  return r;
}

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void printLatency(const char* what, std::vector<double> ns) {
  double p50 = pct(ns, 0.50), p99 = pct(ns, 0.99), p999 = pct(ns, 0.999);
  double mx = *std::max_element(ns.begin(), ns.end());
  std::printf("%-44s n=%zu p50=%.0f ns p99=%.0f ns p99.9=%.0f ns max=%.0f ns\n", what, ns.size(), p50, p99, p999, mx);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = argc > 1 ? std::atoll(argv[1]) : 200'000;
  std::filesystem::path dir = argc > 2 ? argv[2] : std::filesystem::temp_directory_path();
  dir /= fmt::format("rs-ledger-bench-{}", ::getpid());
  std::filesystem::create_directories(dir);
  auto db_path = dir / "ledger.db";
  auto sink = SqliteSink::open(db_path.string());
  if (!sink) {
    std::fprintf(stderr, "%s\n", sink.error().message.c_str());
    return 1;
  }

  // 1. Sink alone: batches of 1024 straight into SQLite.
  {
    std::vector<LedgerRecord> recs;
    for (int64_t i = 0; i < n; ++i) recs.push_back(makeRecord(1'000'000'000 + i));
    auto t0 = Clock::now();
    for (size_t off = 0; off < recs.size(); off += 1024) {
      size_t len = std::min<size_t>(1024, recs.size() - off);
      if (auto r = (*sink)->writeBatch(std::span<const LedgerRecord>(recs.data() + off, len)); !r) {
        std::fprintf(stderr, "%s\n", r.error().message.c_str());
        return 1;
      }
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("%-44s %lld rows in %.3f s = %.0f rows/s\n", "sink.writeBatch(1024) into SQLite file",
                static_cast<long long>(n), s, static_cast<double>(n) / s);
  }

  // 2. Through LedgerWriter: 4 threads submit as fast as they can; time until flushAndStop
  // returns (everything committed). A long submit_wait keeps it from spilling, so this is
  // the writer's sustained rate.
  {
    WriterOptions o;
    o.spill_path = dir / "spill.jsonl";
    o.submit_wait = std::chrono::milliseconds(10'000);
    LedgerWriter writer(**sink, o);
    writer.start();
    constexpr int kThreads = 4;
    std::vector<std::vector<LedgerRecord>> per(kThreads);
    for (int64_t i = 0; i < n; ++i) per[static_cast<size_t>(i % kThreads)].push_back(makeRecord(2'000'000'000 + i));
    auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (auto& r : per[static_cast<size_t>(t)]) writer.submit(std::move(r));
      });
    }
    for (auto& th : threads) th.join();
    writer.flushAndStop();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    WriterStats st = writer.stats();
    std::printf("%-44s %llu rows in %.3f s = %.0f rows/s (spilled %llu, write errors %llu)\n",
                "LedgerWriter, 4 submitting threads", static_cast<unsigned long long>(st.written), s,
                static_cast<double>(st.written) / s, static_cast<unsigned long long>(st.spilled),
                static_cast<unsigned long long>(st.write_errors));
  }

  // 3. submit() latency while the writer is busy: one thread paced at 20,000/s (the
  // throughput target), then 4 threads unpaced with the queue never full.
  {
    WriterOptions o;
    o.spill_path = dir / "spill.jsonl";
    LedgerWriter writer(**sink, o);
    writer.start();
    int64_t m = std::min<int64_t>(n, 100'000);
    std::vector<LedgerRecord> recs;
    for (int64_t i = 0; i < m; ++i) recs.push_back(makeRecord(3'000'000'000 + i));
    std::vector<double> ns;
    ns.reserve(static_cast<size_t>(m));
    auto start = Clock::now();
    auto period = std::chrono::nanoseconds(50'000);  // 20,000/s
    for (int64_t i = 0; i < m; ++i) {
      auto due = start + period * i;
      while (Clock::now() < due) {
      }
      auto t0 = Clock::now();
      writer.submit(std::move(recs[static_cast<size_t>(i)]));
      ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    }
    writer.flushAndStop();
    printLatency("submit(), 1 thread at 20,000/s", ns);
    std::printf("%-44s written %llu spilled %llu\n", "", static_cast<unsigned long long>(writer.stats().written),
                static_cast<unsigned long long>(writer.stats().spilled));
  }
  {
    WriterOptions o;
    o.spill_path = dir / "spill.jsonl";
    LedgerWriter writer(**sink, o);
    writer.start();
    constexpr int kThreads = 4;
    int64_t per_thread = std::min<int64_t>(n, 60'000) / kThreads;  // total below the queue capacity
    std::vector<std::vector<double>> lat(kThreads);
    std::vector<std::vector<LedgerRecord>> per(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      for (int64_t i = 0; i < per_thread; ++i) per[static_cast<size_t>(t)].push_back(makeRecord(4'000'000'000 + t * per_thread + i));
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto& l = lat[static_cast<size_t>(t)];
        l.reserve(static_cast<size_t>(per_thread));
        for (auto& r : per[static_cast<size_t>(t)]) {
          auto t0 = Clock::now();
          writer.submit(std::move(r));
          l.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
        }
      });
    }
    for (auto& th : threads) th.join();
    writer.flushAndStop();
    std::vector<double> all;
    for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
    printLatency("submit(), 4 threads unpaced", all);
    std::printf("%-44s written %llu spilled %llu\n", "", static_cast<unsigned long long>(writer.stats().written),
                static_cast<unsigned long long>(writer.stats().spilled));
  }
  // 4. What the gateway pays: rows arrive at a steady 20,000/s (20 every 1 ms; the submitting
  // thread sleeps between ticks) and the writer thread's own CPU time (from
  // /proc/self/task/TID/schedstat, read once every row is written and before the thread ends)
  // is divided by the rows.
  {
    WriterOptions o;
    o.spill_path = dir / "spill.jsonl";
    LedgerWriter writer(**sink, o);
    writer.start();
    int64_t m = std::min<int64_t>(n, 100'000);
    std::vector<LedgerRecord> recs;
    for (int64_t i = 0; i < m; ++i) recs.push_back(makeRecord(5'000'000'000 + i));
    // CPU ns of every thread but this one: the writer's.
    auto others_cpu_ns = [] {
      double total = 0;
      std::string self = std::to_string(::gettid());
      for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
        if (e.path().filename() == self) continue;
        if (std::FILE* f = std::fopen((e.path() / "schedstat").c_str(), "r")) {
          unsigned long long ns = 0;
          if (std::fscanf(f, "%llu", &ns) == 1) total += static_cast<double>(ns);
          std::fclose(f);
        }
      }
      return total;
    };
    double c0 = others_cpu_ns();
    auto start = Clock::now();
    constexpr int64_t kPerTick = 20;  // 20 rows per 1 ms = 20,000/s
    for (int64_t i = 0; i < m; i += kPerTick) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(1000 * (i / kPerTick)));
      for (int64_t j = i; j < std::min(m, i + kPerTick); ++j) writer.submit(std::move(recs[static_cast<size_t>(j)]));
    }
    while (writer.stats().written + writer.stats().spilled < static_cast<uint64_t>(m)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    double used_us = (others_cpu_ns() - c0) / 1e3;
    writer.flushAndStop();
    std::printf("%-44s %lld rows, writer thread CPU %.2f us/row (written %llu, spilled %llu)\n",
                "LedgerWriter paced at 20,000/s", static_cast<long long>(m), used_us / static_cast<double>(m),
                static_cast<unsigned long long>(writer.stats().written),
                static_cast<unsigned long long>(writer.stats().spilled));
  }
  auto rows = (*sink)->rowCount();
  std::printf("rows in %s: %lld\n", db_path.c_str(), rows ? static_cast<long long>(*rows) : -1LL);
  sink->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
