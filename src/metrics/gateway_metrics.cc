#include "metrics/gateway_metrics.h"

#include <charconv>

namespace rightsize::metrics {
namespace {

// Request durations: a cached local answer in milliseconds up to a long frontier generation.
const std::vector<double> kDurationBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1, 2.5, 5, 10, 30, 60, 120};
const std::vector<double> kTtftBounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30};
// Routing decisions are microseconds (target: 20 us p99 for an 8 KB prompt).
const std::vector<double> kDecisionBounds = {1e-6, 2.5e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2};

double seconds(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1e6; }

}  // namespace

Result<std::unique_ptr<GatewayMetrics>> GatewayMetrics::create(Registry& r, LedgerProbe ledger) {
  std::unique_ptr<GatewayMetrics> m(new GatewayMetrics());
#define RS_TRY_ASSIGN(dst, expr)      \
  do {                                \
    auto res_ = (expr);               \
    if (!res_) return fail(res_.error()); \
    dst = *res_;                      \
  } while (0)
  RS_TRY_ASSIGN(m->requests, r.addCounter("rightsize_requests_total",
                                          "Client requests, counted once each when answered.",
                                          {"route", "model", "status"}));
  RS_TRY_ASSIGN(m->cost_usd, r.addCounter("rightsize_cost_usd_total", "Cost of answered requests in USD.",
                                          {"route", "model"}));
  RS_TRY_ASSIGN(m->reference_cost_usd,
                r.addCounter("rightsize_reference_cost_usd_total",
                             "What the same requests would have cost on the route's reference model, in USD.",
                             {"route", "model"}));
  RS_TRY_ASSIGN(m->tokens, r.addCounter("rightsize_tokens_total",
                                        "Tokens by model and direction: in, out, and the parts of them that were "
                                        "cached_in, cache_write and reasoning.",
                                        {"model", "direction"}));
  RS_TRY_ASSIGN(m->usage_estimated,
                r.addCounter("rightsize_usage_estimated_total",
                             "Answers whose upstream sent no usage: tokens and cost are the gateway's estimate.",
                             {"model"}));
  RS_TRY_ASSIGN(m->request_duration,
                r.addHistogram("rightsize_request_duration_seconds",
                               "Client request duration, arrival to last byte.", {"route"}, kDurationBounds));
  RS_TRY_ASSIGN(m->ttft, r.addHistogram("rightsize_time_to_first_token_seconds",
                                        "Time to the first streamed token.", {"route"}, kTtftBounds));
  RS_TRY_ASSIGN(m->decision, r.addHistogram("rightsize_routing_decision_seconds",
                                            "Time the routing policy took to pick a model.", {"route"},
                                            kDecisionBounds));
  RS_TRY_ASSIGN(m->fallbacks, r.addCounter("rightsize_fallbacks_total",
                                           "Requests answered by a target after the first one failed.", {"route"}));
  RS_TRY_ASSIGN(m->retries, r.addCounter("rightsize_retries_total", "Upstream calls retried.", {"provider"}));
  RS_TRY_ASSIGN(m->upstream_errors,
                r.addCounter("rightsize_upstream_errors_total",
                             "Failed upstream calls by kind (connect, timeout, http_5xx, http_429, ...).",
                             {"provider", "kind"}));
  RS_TRY_ASSIGN(m->pii_detections, r.addCounter("rightsize_pii_detections_total",
                                                "Requests in which the PII detector found this kind of personal data.",
                                                {"kind"}));
  RS_TRY_ASSIGN(m->privacy_restricted,
                r.addCounter("rightsize_privacy_restricted_total",
                             "Requests restricted to on-prem models (sensitive or PII), by outcome.", {"route", "outcome"}));
  RS_TRY_ASSIGN(m->cascade_attempts,
                r.addCounter("rightsize_cascade_attempts_total",
                             "Cascade attempts by model and result (accepted, or the check that failed).",
                             {"route", "model", "result"}));
  RS_TRY_ASSIGN(m->feedback, r.addCounter("rightsize_feedback_total",
                                          "POST /v1/feedback calls: accepted (queued for the ledger) or rejected (bad body).",
                                          {"result"}));
  RS_TRY_ASSIGN(m->shadow, r.addCounter("rightsize_shadow_total",
                                        "Shadow evaluation by route, served model and result (agree, disagree, scored, "
                                        "error, dropped, skipped_sensitive, over_budget).",
                                        {"route", "model", "result"}));
  RS_TRY_ASSIGN(m->shadow_spend_usd,
                r.addCounter("rightsize_shadow_spend_usd_total",
                             "Shadow spend in USD: the yardstick's and the judge's calls, apart from request cost.",
                             {"route", "model"}));
  RS_TRY_ASSIGN(m->circuit_state, r.addGauge("rightsize_circuit_state",
                                             "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
                                             {"provider"}));
#undef RS_TRY_ASSIGN
  struct Cb {
    const char* name;
    const char* help;
    MetricType type;
    std::function<double()>& read;
  };
  Cb cbs[] = {
      {"rightsize_ledger_queue_depth", "Ledger records waiting for or being written to the database.",
       MetricType::kGauge, ledger.queue_depth},
      {"rightsize_ledger_written_total", "Ledger records committed to the database.", MetricType::kCounter,
       ledger.written},
      {"rightsize_ledger_spilled_total", "Ledger records written to the spill file instead of the database.",
       MetricType::kCounter, ledger.spilled},
      {"rightsize_ledger_dropped_total", "Ledger records lost because the spill file could not be written.",
       MetricType::kCounter, ledger.dropped},
      {"rightsize_ledger_write_errors_total", "Failed ledger batch writes (each is retried, then spilled).",
       MetricType::kCounter, ledger.write_errors},
  };
  for (Cb& cb : cbs) {
    if (auto res = r.addCallback(cb.name, cb.help, cb.type, std::move(cb.read)); !res) return fail(res.error());
  }
  return m;
}

void GatewayMetrics::recordRequest(const RequestSample& s) {
  char status_buf[12];
  auto [end, ec] = std::to_chars(status_buf, status_buf + sizeof status_buf, s.status);
  std::string_view status(status_buf, static_cast<size_t>(end - status_buf));
  requests->labels({s.route, s.model, status}).inc();
  cost_usd->labels({s.route, s.model}).inc(nanosToUsd(s.cost));
  reference_cost_usd->labels({s.route, s.model}).inc(nanosToUsd(s.reference_cost));
  if (!s.model.empty()) {
    tokens->labels({s.model, "in"}).inc(static_cast<double>(s.tokens_in));
    tokens->labels({s.model, "out"}).inc(static_cast<double>(s.tokens_out));
    if (s.cached_tokens) tokens->labels({s.model, "cached_in"}).inc(static_cast<double>(s.cached_tokens));
    if (s.cache_write_tokens) tokens->labels({s.model, "cache_write"}).inc(static_cast<double>(s.cache_write_tokens));
    if (s.reasoning_tokens) tokens->labels({s.model, "reasoning"}).inc(static_cast<double>(s.reasoning_tokens));
    if (s.usage_estimated) usage_estimated->labels({s.model}).inc();
  }
  request_duration->labels({s.route}).observe(seconds(s.duration));
  if (s.ttft.count() >= 0) ttft->labels({s.route}).observe(seconds(s.ttft));
  if (s.decision.count() >= 0) decision->labels({s.route}).observe(seconds(s.decision));
}

}  // namespace rightsize::metrics
