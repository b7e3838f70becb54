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

class Accounting {
 public:
  // Opens the ledger named by cfg.ledger (sqlite: the database file, WAL, migrations; its spill
  // file is "<path>.spill.jsonl" and is replayed here; off: no ledger; postgres: not built in this
  // version, an error) and registers the metrics. Starts the writer thread.
  static Result<std::unique_ptr<Accounting>> make(const config::Config& cfg);
  ~Accounting();

  // Counts the request in the metrics and hands its row to the ledger writer (never waits on
  // disk; see ledger::LedgerWriter::submit). `routed`: a routing decision was made (its time is
  // in r.decision). Thread-safe.
  void record(ledger::LedgerRecord&& r, bool routed);

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
