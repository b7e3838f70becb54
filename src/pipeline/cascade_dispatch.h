#pragma once
// policy: cascade at request time: call the targets cheapest first (non-streaming), run the
// route's checks on each answer (and its judge, through the same providers), stop at the first
// answer that passes. Every answer and judge call is paid for and recorded. Used by
// Gateway::chat; the answer is written to the client there (streamed as SSE when asked).

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat_request.h"
#include "metrics/gateway_metrics.h"
#include "routing/cascade_policy.h"
#include "server/gateway.h"
#include "upstream/provider.h"

namespace rightsize::server {

struct CascadeTarget {
  const config::ModelConfig* model = nullptr;
  Gateway::ProviderState* provider = nullptr;
};

struct CascadeRequest {
  std::string& body;                        // the client's body, OpenAI-shaped (parseChatRequest passed)
  const api::ChatRequest& chat;
  std::string_view ask;                     // api::humanAsk, for the judge
  const config::RouteConfig* route = nullptr;
  std::string_view route_name;
  const routing::CascadePolicy& policy;
  std::span<const CascadeTarget> targets;   // in escalation order
  const config::Config& cfg;
  std::map<std::string, Gateway::ProviderState>& providers;
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
  double extra_cost_micros = 0;   // every other answer and every judge call
  std::string detail;             // JSON array, one object per call (ledger attempts_detail)
  std::optional<Error> error;     // set when no target answered at all
};

asio::awaitable<CascadeOutcome> runCascade(const CascadeRequest& in);

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

}  // namespace rightsize::server
