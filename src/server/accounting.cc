#include "server/accounting.h"

#include <spdlog/spdlog.h>

#include "ledger/postgres_sink.h"
#include "ledger/sqlite_sink.h"

namespace rightsize::server {

Result<std::unique_ptr<Accounting>> Accounting::make(const config::Config& cfg) {
  std::unique_ptr<Accounting> acc(new Accounting());
  const auto& lc = cfg.ledger;
  if (lc.kind != config::LedgerKind::kOff) {
    ledger::WriterOptions opts;
    if (lc.kind == config::LedgerKind::kSqlite) {
      auto sink = ledger::SqliteSink::open(lc.path);
      if (!sink) return fail(sink.error().code, "ledger: " + sink.error().message);
      acc->sink_ = std::move(*sink);
      opts.spill_path = lc.path == ":memory:" ? std::string("rightsize-ledger.spill.jsonl") : lc.path + ".spill.jsonl";
    } else {
      // The gateway does not start without its ledger: a wrong dsn is found at startup, not
      // as a growing spill file.
      auto sink = ledger::PostgresSink::open(lc.dsn);
      if (!sink) return fail(sink.error().code, "ledger: " + sink.error().message);
      acc->sink_ = std::move(*sink);
      opts.spill_path = "rightsize-ledger.spill.jsonl";
    }
    if (!lc.spill_path.empty()) opts.spill_path = lc.spill_path;
    acc->store_prompts_ = lc.store_prompts;
    acc->writer_ = std::make_unique<ledger::LedgerWriter>(*acc->sink_, opts);
    auto replayed = acc->writer_->replaySpill();
    if (!replayed) return fail(replayed.error().code, "ledger: replaying the spill file: " + replayed.error().message);
    if (*replayed > 0) spdlog::warn("ledger: replayed {} spilled row(s) from {}", *replayed, opts.spill_path.string());
    acc->writer_->start();
    if (lc.store_responses) {
      // Its own connection (the writer's sink belongs to the writer's thread); migrated above.
      Result<std::unique_ptr<ledger::LedgerSink>> store_sink =
          lc.kind == config::LedgerKind::kSqlite
              ? Result<std::unique_ptr<ledger::LedgerSink>>(ledger::SqliteSink::open(lc.path))
              : Result<std::unique_ptr<ledger::LedgerSink>>(ledger::PostgresSink::open(lc.dsn));
      if (!store_sink) return fail(store_sink.error().code, "responses store: " + store_sink.error().message);
      acc->responses_ = std::make_unique<ledger::ResponseStore>(
          std::move(*store_sink), std::chrono::hours(24) * lc.response_retention_days);
    }
    if (lc.retention_days > 0) {
      // Its own connection and thread, like the response store: a purge (the first one on a
      // large ledger can take seconds) never delays the writer's batches or a request.
      Result<std::unique_ptr<ledger::LedgerSink>> purge_sink =
          lc.kind == config::LedgerKind::kSqlite
              ? Result<std::unique_ptr<ledger::LedgerSink>>(ledger::SqliteSink::open(lc.path))
              : Result<std::unique_ptr<ledger::LedgerSink>>(ledger::PostgresSink::open(lc.dsn));
      if (!purge_sink) return fail(purge_sink.error().code, "ledger retention: " + purge_sink.error().message);
      acc->retention_ = std::make_unique<ledger::LedgerRetention>(std::move(*purge_sink),
                                                                   std::chrono::days(lc.retention_days));
    }
  }
  if (auto* rt = acc->retention_.get()) {
    const auto& c = rt->counters();
    const std::atomic<int64_t>* rows = &c.rows_purged;
    const std::atomic<int64_t>* errors = &c.errors;
    if (auto r = acc->registry_.addCallback(
            "rightsize_ledger_rows_purged_total",
            "Ledger request rows past ledger.retention_days rolled up into request_rollups and deleted",
            metrics::MetricType::kCounter, [rows] { return static_cast<double>(rows->load()); });
        !r)
      return fail(r.error());
    if (auto r = acc->registry_.addCallback("rightsize_ledger_purge_errors_total",
                                            "Ledger retention purges that failed (logged, retried next hour)",
                                            metrics::MetricType::kCounter,
                                            [errors] { return static_cast<double>(errors->load()); });
        !r)
      return fail(r.error());
  }
  if (auto* st = acc->responses_.get()) {
    const auto& c = st->counters();
    const std::pair<const char*, const std::atomic<int64_t>*> counters[] = {
        {"rightsize_responses_stored_total", &c.stored},
        {"rightsize_responses_store_errors_total", &c.put_errors},
        {"rightsize_responses_lookup_errors_total", &c.get_errors},
        {"rightsize_responses_not_found_total", &c.misses},
        {"rightsize_responses_purged_total", &c.purged},
    };
    const char* help[] = {"Responses API answers written to the response store",
                          "Responses API answers the response store failed to write (logged)",
                          "Response store reads and deletes that failed (answered 503)",
                          "Lookups of a stored response that found none (answered 404)",
                          "Stored responses deleted past ledger.response_retention_days"};
    for (size_t i = 0; i < std::size(counters); ++i) {
      const std::atomic<int64_t>* v = counters[i].second;
      if (auto r = acc->registry_.addCallback(counters[i].first, help[i], metrics::MetricType::kCounter,
                                              [v] { return static_cast<double>(v->load()); });
          !r)
        return fail(r.error());
    }
  }
  metrics::GatewayMetrics::LedgerProbe probe;
  if (auto* w = acc->writer_.get()) {
    probe.queue_depth = [w] { return static_cast<double>(w->queueDepth()); };
    probe.written = [w] { return static_cast<double>(w->stats().written); };
    probe.spilled = [w] { return static_cast<double>(w->stats().spilled); };
    probe.dropped = [w] { return static_cast<double>(w->stats().dropped); };
    probe.write_errors = [w] { return static_cast<double>(w->stats().write_errors); };
  }
  auto m = metrics::GatewayMetrics::create(acc->registry_, std::move(probe));
  if (!m) return fail(m.error());
  acc->metrics_ = std::move(*m);
  return acc;
}

Accounting::~Accounting() { flushAndStop(); }

void Accounting::flushAndStop() {
  if (retention_) retention_->stop();
  if (responses_) responses_->stop();
  if (writer_) writer_->flushAndStop();
}

void Accounting::record(ledger::LedgerRecord&& r, bool routed) {
  metrics::RequestSample s;
  s.route = r.route;
  s.model = r.model;
  s.status = r.status;
  s.cost = r.cost_nanos;
  s.reference_cost = r.reference_cost_nanos;
  s.tokens_in = r.tokens_in;
  s.tokens_out = r.tokens_out;
  s.cached_tokens = r.cached_tokens;
  s.cache_write_tokens = r.cache_write_tokens;
  s.reasoning_tokens = r.reasoning_tokens;
  s.usage_estimated = r.usage_estimated;
  s.duration = r.latency;
  s.ttft = r.ttft;
  s.decision = routed ? r.decision : std::chrono::microseconds(-1);
  metrics_->recordRequest(s);
  stats_.record(r);
  if (writer_) writer_->submit(std::move(r));
}

void Accounting::recordShadow(ledger::ShadowGradeRecord&& g) {
  stats_.recordShadow(g);
  if (writer_) writer_->submitShadowGrade(std::move(g));
}

bool Accounting::recordFeedback(ledger::FeedbackRecord&& f) {
  if (!writer_) return false;
  writer_->submitFeedback(std::move(f));
  return true;
}

}  // namespace rightsize::server
