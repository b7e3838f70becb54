#include "server/accounting.h"

#include <spdlog/spdlog.h>

#include "ledger/sqlite_sink.h"

namespace rightsize::server {

Result<std::unique_ptr<Accounting>> Accounting::make(const config::Config& cfg) {
  std::unique_ptr<Accounting> acc(new Accounting());
  const auto& lc = cfg.ledger;
  if (lc.kind == "sqlite") {
    auto sink = ledger::SqliteSink::open(lc.path);
    if (!sink) return fail(sink.error().code, "ledger: " + sink.error().message);
    acc->sink_ = std::move(*sink);
    ledger::WriterOptions opts;
    opts.spill_path = lc.path == ":memory:" ? std::string("rightsize-ledger.spill.jsonl") : lc.path + ".spill.jsonl";
    acc->writer_ = std::make_unique<ledger::LedgerWriter>(*acc->sink_, opts);
    auto replayed = acc->writer_->replaySpill();
    if (!replayed) return fail(replayed.error().code, "ledger: replaying the spill file: " + replayed.error().message);
    if (*replayed > 0) spdlog::warn("ledger: replayed {} spilled row(s) from {}", *replayed, opts.spill_path.string());
    acc->writer_->start();
  } else if (lc.kind == "postgres") {
    return fail(ErrorCode::kInvalidArgument, "ledger kind 'postgres' is not built in this version (use sqlite or off)");
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
  if (writer_) writer_->flushAndStop();
}

void Accounting::record(RequestOutcome&& r) {
  metrics::RequestSample s;
  s.route = r.route;
  s.model = r.model;
  s.status = r.status;
  s.cost_micros = r.cost_micros;
  s.reference_cost_micros = r.reference_cost_micros;
  s.tokens_in = r.tokens_in;
  s.tokens_out = r.tokens_out;
  s.duration = r.latency;
  s.ttft = r.ttft;
  s.decision = r.decision;
  metrics_->recordRequest(s);
  if (!writer_) return;
  ledger::LedgerRecord rec;
  rec.time = r.arrived;
  rec.request_id = std::move(r.request_id);
  rec.route = std::move(r.route);
  rec.model = std::move(r.model);
  rec.provider = std::move(r.provider);
  rec.candidates = std::move(r.candidates);
  rec.knob = r.knob;
  rec.decision = r.decision.count() < 0 ? std::chrono::microseconds(0) : r.decision;
  rec.tokens_in = r.tokens_in;
  rec.tokens_out = r.tokens_out;
  rec.cost_nanos = ledger::microsToNanos(r.cost_micros);
  rec.reference_model = std::move(r.reference_model);
  rec.reference_cost_nanos = ledger::microsToNanos(r.reference_cost_micros);
  rec.latency = r.latency;
  rec.ttft = r.ttft;
  rec.status = r.status;
  rec.error = std::move(r.error);
  rec.attempts = r.attempts;
  rec.sensitive = r.sensitive;
  rec.stream = r.stream;
  writer_->submit(std::move(rec));
}

}  // namespace rightsize::server
