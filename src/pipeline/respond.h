#pragma once
// Writing the answer: errors, whole completions and relayed streams, with the x-rightsize-*
// headers, in the client's shape. Used by the chain (errors) and the dispatch strategies.

#include <charconv>
#include <memory>
#include <optional>
#include <string>

#include "common/money.h"
#include "pipeline/request_context.h"
#include "upstream/provider.h"

namespace rightsize::pipeline {

// What the request cost: the chosen model's answer (info.usage) plus every other paid call
// (cascade: rejected answers and judge calls).
Nanos answerCost(const RequestInfo& info);
// What the reference model would have cost for the same tokens, category by category.
Nanos referenceCost(const RequestInfo& info);

// The upstream sent no usage: the gateway's estimate (prompt from its characters, output as
// given), marked as estimated for the ledger and the usage_estimated metric.
void estimateUsage(RequestInfo& info, const api::ChatRequest& chat, int64_t output_tokens);

// The x-rightsize-* headers (and x-request-id) of `info`; with_cost adds the cost headers. `h`
// is a head built by the caller that has none of these fields yet: insert (one tree search)
// rather than set (a search to erase, then the insert).
template <class Fields>
void setInfoHeaders(Fields& h, const RequestInfo& info, bool with_cost) {
  h.insert("x-request-id", info.request_id);
  if (!info.route.empty()) h.insert("x-rightsize-route", info.route);
  if (info.chosen) h.insert("x-rightsize-model", info.chosen->name);
  char num[24];
  if (info.decision_us >= 0) {
    auto r = std::to_chars(num, num + sizeof num, info.decision_us);
    h.insert("x-rightsize-decision-us", std::string_view(num, r.ptr - num));
  }
  auto r = std::to_chars(num, num + sizeof num, info.attempts);
  h.insert("x-rightsize-attempts", std::string_view(num, r.ptr - num));
  if (with_cost && info.chosen) {
    h.insert("x-rightsize-cost-usd", formatUsd(answerCost(info)));
    if (info.reference) h.insert("x-rightsize-reference-cost-usd", formatUsd(referenceCost(info)));
  }
}

// Settles the key's reservation (ctx.admission, when reserved) with what the request used —
// the chosen model's usage plus every other paid call, success meaning a 200 — exactly once:
// the senders below call it before the answer's last bytes go out, so a client's next request
// is admitted against the settled usage (not the estimate); the account stage calls it on every
// other exit. A no-op once settled.
void settleAdmission(RequestContext& ctx);

// Answers `e`: status from api::httpStatus, the shape's error body (OpenAI's when none), the
// x-rightsize-* headers; records status and message in ctx.info.
asio::awaitable<void> sendError(RequestContext& ctx, const Error& e);

// Answers a whole OpenAI chat.completion `body` (usage already in ctx.info), in the client's
// shape; an answer the shape cannot translate is answered as an error. The head goes straight to
// bytes (http::HeadFields).
asio::awaitable<void> sendCompletion(RequestContext& ctx, std::string body);

// Relays an accepted stream to the client event by event as it arrives. After the head is
// sent nothing is retried: an upstream failure becomes an SSE error event and a clean end.
// Dropping `s` (client gone, or done) closes the upstream connection if it is still open,
// which cancels the upstream request. The shape (ctx.shape) turns the chunks into the client's
// events.
asio::awaitable<void> relayStream(RequestContext& ctx, std::unique_ptr<upstream::ChatStream> s,
                                  std::optional<std::string> first);

}  // namespace rightsize::pipeline
