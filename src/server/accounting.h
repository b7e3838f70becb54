#pragma once
// Accounting for answered requests: one ledger row each (written off the request path by a
// batching writer thread) and the Prometheus metrics behind GET /metrics. Built once from the
// config; record() is called from every worker thread.

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"
#include "config/config.h"
#include "ledger/record.h"
#include "ledger/sink.h"
#include "ledger/writer.h"
#include "metrics/gateway_metrics.h"
#include "metrics/registry.h"

namespace rightsize::server {

// Everything known about one answered client request.
struct RequestOutcome {
  std::chrono::system_clock::time_point arrived{};
  std::string request_id;
  std::string route;
  std::string model;                 // chosen (or last tried) model's config name; "" if none
  std::string provider;
  std::string candidates;            // comma-joined
  double knob = -1;
  std::chrono::microseconds decision{-1};
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  double cost_micros = 0;
  std::string reference_model;
  double reference_cost_micros = 0;
  std::chrono::microseconds latency{0};
  std::chrono::microseconds ttft{-1};
  int status = 0;
  std::string error;
  int attempts = 0;
  bool sensitive = false;
  bool stream = false;
};

class Accounting {
 public:
  // Opens the ledger named by cfg.ledger (sqlite: the database file, WAL, migrations; its spill
  // file is "<path>.spill.jsonl" and is replayed here; off: no ledger; postgres: not built in this
  // version, an error) and registers the metrics. Starts the writer thread.
  static Result<std::unique_ptr<Accounting>> make(const config::Config& cfg);
  ~Accounting();

  // Counts the request in the metrics and hands its row to the ledger writer (never waits on
  // disk; see ledger::LedgerWriter::submit). Thread-safe.
  void record(RequestOutcome&& r);

  metrics::GatewayMetrics& metrics() { return *metrics_; }
  // The Prometheus text exposition of every metric.
  std::string renderMetrics() const { return registry_.render(); }

  // SIGTERM path, after the in-flight requests are done: writes every queued row. Idempotent.
  void flushAndStop();

 private:
  Accounting() = default;

  metrics::Registry registry_;
  std::unique_ptr<metrics::GatewayMetrics> metrics_;
  std::unique_ptr<ledger::LedgerSink> sink_;
  std::unique_ptr<ledger::LedgerWriter> writer_;
};

}  // namespace rightsize::server
