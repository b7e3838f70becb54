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
#include "ledger/response_store.h"
#include "ledger/retention.h"
#include "ledger/sink.h"
#include "ledger/writer.h"
#include "metrics/gateway_metrics.h"
#include "metrics/registry.h"
#include "server/stats.h"

namespace rightsize::server {

class Accounting {
 public:
  // Opens the ledger named by cfg.ledger (sqlite: the database file, WAL, migrations; postgres:
  // connects to ledger.dsn and migrates; off: no ledger), replays its spill file (ledger.spill_path,
  // default "<path>.spill.jsonl" / "rightsize-ledger.spill.jsonl") and registers the metrics.
  // Starts the writer thread. Fails when the database cannot be opened or reached.
  static Result<std::unique_ptr<Accounting>> make(const config::Config& cfg);
  ~Accounting();

  // Counts the request in the metrics and hands its row to the ledger writer (never waits on
  // disk; see ledger::LedgerWriter::submit). `routed`: a routing decision was made (its time is
  // in r.decision). Thread-safe.
  void record(ledger::LedgerRecord&& r, bool routed);

  // Hands a POST /v1/feedback row to the ledger writer (never waits). False when there is no
  // ledger (kind off) to store it in. Thread-safe.
  bool recordFeedback(ledger::FeedbackRecord&& f);
  // Hands a shadow grade (pipeline/shadow.h) to the ledger writer (never waits) and to the
  // dashboard's stats. Thread-safe.
  void recordShadow(ledger::ShadowGradeRecord&& g);
  // ledger.store_prompts: the gateway fills LedgerRecord::prompt only when this is true.
  bool storePrompts() const { return store_prompts_; }
  // Null when the ledger is off.
  const ledger::LedgerWriter* writer() const { return writer_.get(); }
  // The ledger's retention purge (ledger.retention_days); null when the ledger is off or the
  // retention is 0.
  ledger::LedgerRetention* retention() { return retention_.get(); }
  // The stored responses of POST /v1/responses, in the ledger's database (its own connection);
  // null when the ledger is off or ledger.store_responses is false.
  ledger::ResponseStore* responseStore() { return responses_.get(); }

  metrics::GatewayMetrics& metrics() { return *metrics_; }
  // For metrics that live elsewhere (limits) to register render-time callbacks at startup.
  metrics::Registry& registry() { return registry_; }
  // The Prometheus text exposition of every metric.
  std::string renderMetrics() const { return registry_.render(); }
  // The in-memory aggregate of every recorded row, behind GET /api/stats (the dashboard).
  const Stats& stats() const { return stats_; }

  // SIGTERM path, after the in-flight requests are done: writes every queued row and stored
  // response. Idempotent.
  void flushAndStop();

 private:
  Accounting() = default;

  metrics::Registry registry_;
  std::unique_ptr<metrics::GatewayMetrics> metrics_;
  std::unique_ptr<ledger::LedgerSink> sink_;
  std::unique_ptr<ledger::LedgerWriter> writer_;
  std::unique_ptr<ledger::ResponseStore> responses_;
  std::unique_ptr<ledger::LedgerRetention> retention_;  // null: ledger off or retention_days 0
  bool store_prompts_ = false;
  Stats stats_;
};

}  // namespace rightsize::server
