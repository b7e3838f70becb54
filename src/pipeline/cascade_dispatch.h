#pragma once
// policy: cascade at request time (the cascade dispatch strategy, dispatch.h): call the targets
// cheapest first (non-streaming), run the route's checks on each answer (and its judge, through
// the same providers), stop at the first answer that passes. Every answer and judge call is paid
// for and recorded (info.attempts, info.extra_cost, info.attempts_detail). The answer is
// written to the client as JSON, or as SSE when the client asked for a stream.
// A route with cascade.stages runs them instead (routing::CascadeRun decides): an agree stage's
// models are called in parallel and all awaited; a failed model does not vote (docs/cascade.md).

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat_request.h"
#include "metrics/gateway_metrics.h"
#include "routing/cascade_policy.h"
#include "pipeline/dispatch.h"
#include "upstream/provider.h"

namespace rightsize::pipeline {

struct CascadeRequest {
  std::string& body;                        // the client's body, OpenAI-shaped (parseChatRequest passed)
  const api::ChatRequest& chat;
  std::string_view ask;                     // api::humanAsk, for the judge
  const config::RouteConfig* route = nullptr;
  std::string_view route_name;
  const routing::CascadePolicy& policy;
  std::span<const Target> targets;          // in escalation order
  const config::Config& cfg;
  const std::map<std::string, upstream::GuardedProvider>& providers;
  metrics::GatewayMetrics* metrics = nullptr;  // may be null
  std::string_view request_id;
  bool sensitive = false;                   // privacy: the judge is called only when on-prem
};

struct CascadeOutcome {
  std::optional<upstream::Completion> answer;  // the answer to send (accepted, or the last one)
  const config::ModelConfig* model = nullptr;  // who gave it (or the last target tried)
  api::Usage usage;                            // of `answer`
  bool usage_known = false;
  bool accepted = false;          // false: no answer passed; the last answer is sent anyway
  int attempts = 0;               // answer calls made (judge calls not included)
  Nanos extra_cost = 0;           // every other answer and every judge call
  std::string detail;             // JSON array, one object per call (ledger attempts_detail)
  std::optional<Error> error;     // set when no target answered at all
  int64_t pre_route_us = -1;      // time the cascade.pre_route router took; -1 when there is none
};

asio::awaitable<CascadeOutcome> runCascade(const CascadeRequest& in);

// The cascade dispatch strategy of one `policy: cascade` route: runCascade over ctx.targets,
// then the answer to the client (re-pinning the session to the model that answered).
class CascadeDispatch final : public Dispatcher {
 public:
  // `policy` is the route's (RouteState::policy) and outlives this object.
  explicit CascadeDispatch(const routing::CascadePolicy& policy) : policy_(policy) {}
  std::string_view name() const override { return "cascade"; }
  asio::awaitable<void> dispatch(RequestContext& ctx, const Services& s) const override;

 private:
  const routing::CascadePolicy& policy_;
};

// A completed answer's chat.completion body -> chat.completion.chunk payloads (role, content in
// pieces, tool calls, finish, then a usage chunk with empty choices), the shape an OpenAI
// stream would have had.
std::vector<std::string> completionToChunks(std::string_view completion_body, const api::Usage& usage);

// Yields prepared stream payloads: the accepted cascade answer as a stream.
class BufferedChatStream final : public upstream::ChatStream {
 public:
  explicit BufferedChatStream(std::vector<std::string> events) : events_(std::move(events)) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override;

 private:
  std::vector<std::string> events_;
  size_t next_ = 0;
};

}  // namespace rightsize::pipeline
