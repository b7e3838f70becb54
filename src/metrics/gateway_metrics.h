#pragma once
// The gateway's metric set (names and labels as /metrics shows them), as handles the
// request path updates directly.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "common/money.h"
#include "common/result.h"
#include "metrics/registry.h"

namespace rightsize::metrics {

// What one answered client request contributes to the metrics.
struct RequestSample {
  std::string_view route;
  std::string_view model;           // config name of the chosen model ("" if none was reached)
  int status = 0;                   // HTTP status sent to the client
  Nanos cost = 0;
  Nanos reference_cost = 0;
  int64_t tokens_in = 0;            // every input token, cached ones included
  int64_t tokens_out = 0;
  int64_t cached_tokens = 0;        // of tokens_in, read from the provider's prompt cache
  int64_t cache_write_tokens = 0;   // of tokens_in, written to it
  int64_t reasoning_tokens = 0;     // of tokens_out
  bool usage_estimated = false;     // the upstream sent no usage; the tokens are the gateway's estimate
  std::chrono::microseconds duration{0};
  std::chrono::microseconds ttft{-1};      // -1: not streamed, not observed
  std::chrono::microseconds decision{-1};  // -1: no routing decision was made
};

// Circuit breaker state as the rightsize_circuit_state gauge reports it.
enum class CircuitGaugeValue { kClosed = 0, kHalfOpen = 1, kOpen = 2 };

class GatewayMetrics {
 public:
  // Reads of the ledger writer's counters (LedgerWriter::stats()), taken at scrape time so
  // metrics does not depend on ledger. An unset function reads 0 (ledger off).
  struct LedgerProbe {
    std::function<double()> queue_depth, written, spilled, dropped, write_errors;
  };

  // Registers every gateway metric in `registry` (which must outlive this object).
  // Fails only if a name is already registered there.
  static Result<std::unique_ptr<GatewayMetrics>> create(Registry& registry, LedgerProbe ledger = {});

  // Counts one client request: requests_total, cost, reference cost, tokens, and the
  // duration, time-to-first-token and decision histograms. Thread-safe.
  void recordRequest(const RequestSample& s);

  void setCircuitState(std::string_view provider, CircuitGaugeValue v) {
    circuit_state->labels({provider}).set(static_cast<double>(v));
  }

  // Handles, for the updates recordRequest does not cover. Label names in braces.
  CounterFamily* requests = nullptr;             // rightsize_requests_total{route,model,status}
  CounterFamily* cost_usd = nullptr;             // rightsize_cost_usd_total{route,model}
  CounterFamily* reference_cost_usd = nullptr;   // rightsize_reference_cost_usd_total{route,model}
  CounterFamily* tokens = nullptr;               // rightsize_tokens_total{model,direction=in|out|cached_in|cache_write|reasoning}
  CounterFamily* usage_estimated = nullptr;      // rightsize_usage_estimated_total{model}
  HistogramFamily* request_duration = nullptr;   // rightsize_request_duration_seconds{route}
  HistogramFamily* ttft = nullptr;               // rightsize_time_to_first_token_seconds{route}
  HistogramFamily* decision = nullptr;           // rightsize_routing_decision_seconds{route}
  CounterFamily* fallbacks = nullptr;            // rightsize_fallbacks_total{route}
  CounterFamily* retries = nullptr;              // rightsize_retries_total{provider}
  CounterFamily* upstream_errors = nullptr;      // rightsize_upstream_errors_total{provider,kind}
  CounterFamily* pii_detections = nullptr;       // rightsize_pii_detections_total{kind}
  CounterFamily* privacy_restricted = nullptr;   // rightsize_privacy_restricted_total{route,outcome=on_prem|rejected}
  CounterFamily* cascade_attempts = nullptr;     // rightsize_cascade_attempts_total{route,model,result}
  CounterFamily* feedback = nullptr;             // rightsize_feedback_total{result=accepted|rejected}
  // Shadow evaluation (docs/shadow.md). result: agree|disagree|scored|error|dropped|skipped_sensitive|over_budget.
  CounterFamily* shadow = nullptr;               // rightsize_shadow_total{route,model,result}
  CounterFamily* shadow_spend_usd = nullptr;     // rightsize_shadow_spend_usd_total{route,model}
  GaugeFamily* circuit_state = nullptr;          // rightsize_circuit_state{provider}: 0 closed, 1 half-open, 2 open

 private:
  GatewayMetrics() = default;
};

}  // namespace rightsize::metrics
