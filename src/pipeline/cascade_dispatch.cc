#include "pipeline/cascade_dispatch.h"

#include <chrono>

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/money.h"
#include "common/strings.h"
#include "pipeline/policy_services.h"
#include "pipeline/respond.h"
#include "routing/cost_estimate.h"
#include "upstream/retry.h"

namespace rightsize::pipeline {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

// True when the client's own body asks for logprobs ("logprobs": true at the top level).
bool clientAskedLogprobs(std::string_view body) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !v.is_object()) return false;
  const json::value* lp = v.as_object().if_contains("logprobs");
  return lp && lp->is_bool() && lp->as_bool();
}

// The answer without the logprobs the gateway asked for on its own behalf (for the logprob
// check): every choice's "logprobs" becomes null, as if they had never been requested.
void dropLogprobs(std::string& completion_body) {
  json::error_code ec;
  json::value v = json::parse(completion_body, ec);
  if (ec || !v.is_object()) return;
  json::value* choices = v.as_object().if_contains("choices");
  if (!choices || !choices->is_array()) return;
  for (json::value& c : choices->as_array())
    if (c.is_object() && c.as_object().contains("logprobs")) c.as_object()["logprobs"] = nullptr;
  completion_body = json::serialize(v);
}

struct CallOutcome {
  upstream::CallResult<upstream::Completion> res;
  api::Usage usage;
  bool usage_known = false;
  int64_t latency_ms = 0;
};

// One non-streaming call through the breaker (upstream::completeOnce). A cascade does not retry
// a target: a failed call escalates to the next one, which is what a retry would buy here.
asio::awaitable<CallOutcome> callOnce(const upstream::GuardedProvider& gp, const upstream::ChatCall& call,
                                      const api::ChatRequest& chat) {
  CallOutcome out{tl::unexpected(upstream::CallError{}), {}, false, 0};
  const auto t0 = SteadyClock::now();
  auto r = co_await upstream::completeOnce(gp, call);
  if (r.attempted)
    out.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
  if (r.result) {
    if (r.result->usage) {
      out.usage = *r.result->usage;
      out.usage_known = true;
    } else {
      out.usage = api::Usage{api::estimateTokens(chat.content_chars), api::estimateTokens(r.result->body.size())};
    }
  }
  out.res = std::move(r.result);
  co_return out;
}

std::string attemptJson(std::string_view kind, const config::ModelConfig& m, std::string_view result,
                        std::string_view detail, Nanos cost, int64_t latency_ms, const api::Rewrite* rw) {
  std::string o = fmt::format(R"({{"kind":"{}","model":{},"result":{},"cost_usd":{},"latency_ms":{})", kind,
                              jsonString(m.name), jsonString(result), formatUsd(cost), latency_ms);
  if (!detail.empty()) o += fmt::format(R"(,"detail":{})", jsonString(detail));
  if (rw && (rw->max_tokens_cap || !rw->reasoning_effort_cap.empty())) {
    o += R"(,"budget":{)";
    if (rw->max_tokens_cap) o += fmt::format(R"("max_completion_tokens":{})", *rw->max_tokens_cap);
    if (!rw->reasoning_effort_cap.empty())
      o += fmt::format(R"({}"reasoning_effort":{})", rw->max_tokens_cap ? "," : "", jsonString(rw->reasoning_effort_cap));
    o += "}";
  }
  o += "}";
  return o;
}

// The request rewritten for one cascade target (non-streaming, the route's budget caps).
Result<std::string> attemptBody(const CascadeRequest& in, const config::ModelConfig& m, bool logprobs, api::Rewrite& rw) {
  rw.model_id = m.id;
  applyBudget(in.route, m, rw);
  rw.force_non_stream = true;
  rw.request_logprobs = logprobs;
  return api::rewriteChatRequest(in.body, rw);
}

// A staged cascade (cascade.stages): routing::CascadeRun decides, this makes the calls. An agree
// stage's models are asked in parallel (the stage takes as long as its slowest call, each
// bounded by its provider's timeouts); a model that fails, is filtered out of the targets
// (privacy, open circuit) or whose answer fails the route's checks does not vote.
asio::awaitable<CascadeOutcome> runStagedCascade(const CascadeRequest& in, const routing::CascadePlan& plan) {
  CascadeOutcome out;
  const routing::AnswerChecks& checks = in.policy.checks();
  struct Answered {
    upstream::Completion answer;
    const config::ModelConfig* model = nullptr;
    api::Usage usage;
    bool usage_known = false;
    Nanos cost = 0;
  };
  // [stage][model]: a pre-routed run skips stages, so the answers are kept by stage index.
  std::vector<std::vector<std::optional<Answered>>> held(plan.stages().size());
  std::optional<Error> last_error;
  Nanos total_cost = 0;
  routing::PreRouteChoice pre;
  if (const routing::CascadePreRouter* pr = in.policy.preRouter()) {
    const auto t0 = SteadyClock::now();
    pre = pr->decide(plan, in.ask);
    out.pre_route_us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0).count();
    appendDetail(out.detail, fmt::format(R"({{"stage":"pre_route","decision":"{}","p":{:.4f},"latency_us":{}}})",
                                         routing::preRouteName(pre.decision), pre.p, out.pre_route_us));
    if (pre.decision != routing::PreRouteChoice::Decision::kNormal)
      spdlog::info("[{}] cascade: pre-route {} (p {:.3f})", in.request_id, routing::preRouteName(pre.decision), pre.p);
  }
  routing::CascadeRun run(plan, pre.decision);
  std::optional<routing::CascadeRun::AnswerRef> send;
  bool accepted = false;
  auto ex = co_await asio::this_coro::executor;
  while (!run.finished()) {
    const std::span<const std::string> models = run.models();
    const routing::Extractor* extract = run.extract();
    const size_t n = models.size();
    std::vector<const Target*> targets(n, nullptr);
    for (size_t i = 0; i < n; ++i)
      for (const Target& t : in.targets)
        if (t.model->name == models[i]) targets[i] = &t;
    // Bodies first: a request the rewrite rejects ends the cascade before anything is paid for.
    std::vector<api::Rewrite> rws(n);
    std::vector<upstream::ChatCall> calls(n);
    for (size_t i = 0; i < n; ++i) {
      if (!targets[i]) continue;
      auto body = attemptBody(in, *targets[i]->model, checks.wantsLogprobs(), rws[i]);
      if (!body) {
        out.error = body.error();
        co_return out;
      }
      calls[i].request = &in.chat;
      calls[i].model_id = targets[i]->model->id;
      calls[i].body = std::move(*body);
    }
    using CallOp = decltype(asio::co_spawn(ex, callOnce(*in.targets.front().provider, calls[0], in.chat), asio::deferred));
    std::vector<CallOp> ops;
    std::vector<size_t> op_index;
    for (size_t i = 0; i < n; ++i) {
      if (!targets[i]) {
        spdlog::info("[{}] cascade: {} is not available for this request; it does not vote", in.request_id, models[i]);
        continue;
      }
      ops.push_back(asio::co_spawn(ex, callOnce(*targets[i]->provider, calls[i], in.chat), asio::deferred));
      op_index.push_back(i);
    }
    out.attempts += static_cast<int>(ops.size());
    std::vector<CallOutcome> results(n, CallOutcome{tl::unexpected(upstream::CallError{}), {}, false, 0});
    if (!ops.empty()) {
      auto [order, exceptions, outcomes] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                               .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
      for (size_t k = 0; k < op_index.size(); ++k) {
        if (exceptions[k]) std::rethrow_exception(exceptions[k]);  // our own bug, not an upstream's
        results[op_index[k]] = std::move(outcomes[k]);
      }
    }
    std::vector<routing::StageAnswer> answers(n);
    std::vector<std::string> results_text(n), details(n);
    const size_t stage_index = run.stage();
    std::vector<std::optional<Answered>>& stage_held = held[stage_index];
    stage_held.assign(n, std::nullopt);
    for (size_t i = 0; i < n; ++i) {
      if (!targets[i]) continue;
      const config::ModelConfig& m = *targets[i]->model;
      CallOutcome& r = results[i];
      if (!r.res) {
        const upstream::CallError& ce = r.res.error();
        spdlog::warn("[{}] cascade: {} failed: {}", in.request_id, m.name, ce.error.message);
        appendDetail(out.detail, attemptJson("answer", m, "error", ce.error.message, 0, r.latency_ms, &rws[i]));
        if (in.metrics) in.metrics->cascade_attempts->labels({in.route_name, m.name, "error"}).inc();
        if (!ce.fallback_ok && !out.error) out.error = ce.error;  // the request itself is bad
        last_error = ce.error;
        continue;
      }
      const Nanos cost = routing::callCost(m, r.usage);
      total_cost += cost;
      routing::StageAnswer& a = answers[i];
      a.answered = true;
      auto view = routing::parseAnswer(r.res->body);
      routing::CheckVerdict verdict =
          view ? checks.runLocal(*view, in.chat.response_schema) : routing::CheckVerdict{false, "parse", view.error().message};
      a.passed = verdict.pass;
      if (verdict.pass && extract) a.value = extract->extract(view->text);
      results_text[i] = !verdict.pass ? verdict.failed : extract && !a.value ? "no_vote" : "answered";
      details[i] = verdict.detail;
      if (a.value) details[i] = fmt::format("vote {}", a.value->size() <= 64 ? *a.value : a.value->substr(0, 64) + "...");
      stage_held[i] = Answered{std::move(*r.res), &m, r.usage, r.usage_known, cost};
    }
    if (out.error) {
      // The request itself is bad: no answer is sent, but the answers already given were paid for.
      out.extra_cost = total_cost;
      co_return out;
    }
    const routing::CascadeRun::Step step = run.feed(answers);
    for (size_t i = 0; i < n; ++i) {
      if (!stage_held[i]) continue;
      const bool is_accepted = step.verdict == routing::CascadeRun::Step::Verdict::kAccept && step.answer &&
                               step.answer->index == i;
      const std::string& result = is_accepted ? std::string("accepted") : results_text[i];
      const Answered& h = *stage_held[i];
      appendDetail(out.detail, attemptJson("answer", *h.model, result, details[i], h.cost, results[i].latency_ms, &rws[i]));
      if (in.metrics) in.metrics->cascade_attempts->labels({in.route_name, h.model->name, result}).inc();
    }
    if (step.verdict == routing::CascadeRun::Step::Verdict::kEscalate)
      spdlog::info("[{}] cascade: stage {} did not accept; escalating", in.request_id, stage_index);
    send = step.answer;
    accepted = step.verdict == routing::CascadeRun::Step::Verdict::kAccept;
  }
  if (!send) {
    out.error = last_error ? *last_error
                           : Error{ErrorCode::kUnavailable, "no upstream available for this request: every cascade model is unavailable", 0};
    co_return out;
  }
  Answered& chosen = *held[send->stage][send->index];
  out.accepted = accepted;
  out.extra_cost = total_cost - chosen.cost;  // every other answer was paid for too
  out.answer = std::move(chosen.answer);
  if (checks.wantsLogprobs() && !clientAskedLogprobs(in.body)) dropLogprobs(out.answer->body);
  out.model = chosen.model;
  out.usage = chosen.usage;
  out.usage_known = chosen.usage_known;
  co_return out;
}

}  // namespace

asio::awaitable<CascadeOutcome> runCascade(const CascadeRequest& in) {
  if (const routing::CascadePlan* plan = in.policy.plan()) co_return co_await runStagedCascade(in, *plan);
  CascadeOutcome out;
  const routing::AnswerChecks& checks = in.policy.checks();
  const uint32_t max_attempts = in.policy.maxAttempts();
  std::optional<Error> last_error;
  // The last good answer so far, in case none passes: the most capable answer is sent.
  std::optional<upstream::Completion> last_answer;
  const config::ModelConfig* last_model = nullptr;
  api::Usage last_usage;
  bool last_usage_known = false;
  Nanos last_cost = 0;

  for (size_t ti = 0; ti < in.targets.size(); ++ti) {
    if (max_attempts && out.attempts >= static_cast<int>(max_attempts)) break;
    const Target& t = in.targets[ti];
    const bool final_target = ti + 1 == in.targets.size() || (max_attempts && out.attempts + 1 >= static_cast<int>(max_attempts));
    api::Rewrite rw;
    rw.model_id = t.model->id;
    applyBudget(in.route, *t.model, rw);
    rw.force_non_stream = true;
    rw.request_logprobs = checks.wantsLogprobs();
    auto body = api::rewriteChatRequest(in.body, rw);
    if (!body) {
      out.error = body.error();
      co_return out;
    }
    upstream::ChatCall call;
    call.request = &in.chat;
    call.model_id = t.model->id;
    call.body = std::move(*body);
    ++out.attempts;
    auto r = co_await callOnce(*t.provider, call, in.chat);
    if (!r.res) {
      const Error& e = r.res.error().error;
      spdlog::warn("[{}] cascade: {} failed: {}", in.request_id, t.model->name, e.message);
      appendDetail(out.detail, attemptJson("answer", *t.model, "error", e.message, 0, r.latency_ms, &rw));
      if (in.metrics) in.metrics->cascade_attempts->labels({in.route_name, t.model->name, "error"}).inc();
      if (!r.res.error().fallback_ok) {
        out.error = e;
        out.model = t.model;
        co_return out;
      }
      last_error = e;
      continue;
    }
    const Nanos cost = routing::callCost(*t.model, r.usage);
    // Judge what we got. A body that is not a chat completion fails every check.
    routing::CheckVerdict verdict;
    auto view = routing::parseAnswer(r.res->body);
    if (!view) {
      verdict = routing::CheckVerdict{false, "parse", view.error().message};
    } else {
      verdict = checks.runLocal(*view, in.chat.response_schema);
    }
    std::string judge_json;
    const config::CascadeCheck* jcheck = verdict.pass && !final_target ? checks.judge() : nullptr;
    const config::ModelConfig* jmodel = jcheck ? &in.cfg.models.at(jcheck->judge_model) : nullptr;
    if (jmodel && in.sensitive && in.cfg.providers.at(jmodel->provider).locality != config::Locality::kOnPrem) {
      // Privacy: a sensitive request's ask and answer never go to a remote judge. Unjudged is
      // not accepted: the cascade escalates (its targets are all on-prem here).
      verdict = routing::CheckVerdict{false, "judge", "the judge is not on-prem; a sensitive request is not sent to it"};
      judge_json = attemptJson("judge", *jmodel, "skipped: sensitive request, remote judge", "", 0, 0, nullptr);
    } else if (jmodel) {
      const config::CascadeCheck& jc = *jcheck;
      const config::ModelConfig& jm = *jmodel;
      auto& jps = in.providers.at(jm.provider);
      api::ChatRequest jreq;
      jreq.model = jm.id;
      const std::string prompt = routing::judgePrompt(in.ask, view->text);
      jreq.messages.push_back(api::ChatMessage{"user", prompt});
      jreq.content_chars = prompt.size();
      upstream::ChatCall jcall;
      jcall.request = &jreq;
      jcall.model_id = jm.id;
      jcall.body = fmt::format(R"({{"model":{},"messages":[{{"role":"user","content":{}}}],"temperature":0,"stream":false}})",
                               jsonString(jm.id), jsonString(prompt));
      auto jr = co_await callOnce(jps, jcall, jreq);
      if (!jr.res) {
        verdict = routing::CheckVerdict{false, "judge", "judge call failed: " + jr.res.error().error.message};
        judge_json = attemptJson("judge", jm, "error", jr.res.error().error.message, 0, jr.latency_ms, nullptr);
      } else {
        const Nanos jcost = routing::callCost(jm, jr.usage);
        out.extra_cost += jcost;
        auto jview = routing::parseAnswer(jr.res->body);
        std::optional<double> score = jview ? routing::parseJudgeScore(jview->text) : std::nullopt;
        if (!score) {
          verdict = routing::CheckVerdict{false, "judge", "the judge's reply is not a score 0-10"};
          judge_json = attemptJson("judge", jm, "unparseable", "", jcost, jr.latency_ms, nullptr);
        } else {
          if (*score < jc.min_score)
            verdict = routing::CheckVerdict{false, "judge", fmt::format("score {:.2f} < {:.2f}", *score, jc.min_score)};
          judge_json = attemptJson("judge", jm, fmt::format("score {:.2f}", *score), "", jcost, jr.latency_ms, nullptr);
        }
      }
    }
    const std::string result = verdict.pass ? "accepted" : verdict.failed;
    appendDetail(out.detail, attemptJson("answer", *t.model, result, verdict.detail, cost, r.latency_ms, &rw));
    if (!judge_json.empty()) appendDetail(out.detail, judge_json);
    if (in.metrics) in.metrics->cascade_attempts->labels({in.route_name, t.model->name, result}).inc();
    if (last_answer) out.extra_cost += last_cost;  // superseded: still paid for
    last_answer = std::move(*r.res);
    last_model = t.model;
    last_usage = r.usage;
    last_usage_known = r.usage_known;
    last_cost = cost;
    if (verdict.pass) {
      out.accepted = true;
      break;
    }
    spdlog::info("[{}] cascade: {} rejected by {} check; escalating", in.request_id, t.model->name, verdict.failed);
  }
  if (!last_answer) {
    out.error = last_error ? *last_error
                           : Error{ErrorCode::kUnavailable, "no upstream available for this request: every candidate's circuit is open", 0};
    co_return out;
  }
  out.answer = std::move(last_answer);
  if (checks.wantsLogprobs() && !clientAskedLogprobs(in.body)) dropLogprobs(out.answer->body);
  out.model = last_model;
  out.usage = last_usage;
  out.usage_known = last_usage_known;
  co_return out;
}

std::vector<std::string> completionToChunks(std::string_view completion_body, const api::Usage& usage) {
  std::vector<std::string> out;
  json::error_code ec;
  json::value v = json::parse(json::string_view(completion_body.data(), completion_body.size()), ec);
  json::object base;
  base["id"] = "chatcmpl-rightsize";
  base["object"] = "chat.completion.chunk";
  base["created"] = 0;
  base["model"] = "";
  json::object message;
  json::value finish = "stop";
  if (!ec && v.is_object()) {
    const json::object& o = v.get_object();
    for (const char* k : {"id", "created", "model", "system_fingerprint"})
      if (const json::value* x = o.if_contains(k)) base[k] = *x;
    if (const json::value* ch = o.if_contains("choices"); ch && ch->is_array() && !ch->get_array().empty() &&
                                                          ch->get_array()[0].is_object()) {
      const json::object& c0 = ch->get_array()[0].get_object();
      if (const json::value* m = c0.if_contains("message"); m && m->is_object()) message = m->get_object();
      if (const json::value* f = c0.if_contains("finish_reason")) finish = *f;
    }
  }
  auto chunk = [&](json::object delta, json::value finish_reason) {
    json::object c = base;
    json::array choices;
    json::object choice;
    choice["index"] = 0;
    choice["delta"] = std::move(delta);
    choice["finish_reason"] = std::move(finish_reason);
    choices.push_back(std::move(choice));
    c["choices"] = std::move(choices);
    out.push_back(json::serialize(c));
  };
  json::object role;
  role["role"] = "assistant";
  role["content"] = "";
  chunk(std::move(role), nullptr);
  if (const json::value* content = message.if_contains("content"); content && content->is_string()) {
    // Pieces of about 64 bytes cut after whitespace, so a UTF-8 sequence is never split.
    std::string_view text(content->get_string().data(), content->get_string().size());
    size_t start = 0;
    while (start < text.size()) {
      size_t end = std::min(text.size(), start + 64);
      if (end < text.size()) {
        size_t ws = text.find_first_of(" \n\t", end);
        end = ws == std::string_view::npos ? text.size() : ws + 1;
      }
      json::object d;
      d["content"] = json::string(text.substr(start, end - start));
      chunk(std::move(d), nullptr);
      start = end;
    }
  }
  if (const json::value* tc = message.if_contains("tool_calls"); tc && tc->is_array()) {
    json::array calls;
    size_t i = 0;
    for (const json::value& call : tc->get_array()) {
      if (!call.is_object()) continue;
      json::object c = call.get_object();
      c["index"] = i++;
      calls.push_back(std::move(c));
    }
    json::object d;
    d["tool_calls"] = std::move(calls);
    chunk(std::move(d), nullptr);
  }
  if (const json::value* r = message.if_contains("refusal"); r && r->is_string()) {
    json::object d;
    d["refusal"] = *r;
    chunk(std::move(d), nullptr);
  }
  chunk(json::object(), finish);
  json::object u = base;
  u["choices"] = json::array();
  json::object uj;
  uj["prompt_tokens"] = usage.prompt_tokens;
  uj["completion_tokens"] = usage.completion_tokens;
  uj["total_tokens"] = usage.prompt_tokens + usage.completion_tokens;
  if (usage.cached_tokens > 0) uj["prompt_tokens_details"] = json::object{{"cached_tokens", usage.cached_tokens}};
  if (usage.reasoning_tokens > 0)
    uj["completion_tokens_details"] = json::object{{"reasoning_tokens", usage.reasoning_tokens}};
  u["usage"] = std::move(uj);
  out.push_back(json::serialize(u));
  return out;
}

asio::awaitable<void> CascadeDispatch::dispatch(RequestContext& ctx, const Services& s) const {
  RequestInfo& info = ctx.info;
  const CascadeRequest creq{ctx.req.body(), ctx.chat, ctx.ask(), ctx.route ? ctx.route->route : nullptr, info.route,
                            policy_, ctx.targets, *s.cfg, s.providers, s.metrics, info.request_id, info.sensitive};
  CascadeOutcome out = co_await runCascade(creq);
  info.attempts += out.attempts;
  info.chosen = out.model;
  info.extra_cost = out.extra_cost;
  info.attempts_detail = std::move(out.detail);
  if (out.pre_route_us >= 0 && info.decision_us >= 0) info.decision_us += out.pre_route_us;  // the router decided too
  if (!out.answer) {
    ctx.error = out.error ? *out.error : Error{ErrorCode::kUnavailable, "no upstream answered", 0};
    co_return;
  }
  if (out.model != ctx.targets.front().model) s.policy->repin(info.route, ctx.session, out.model->name);
  info.usage = out.usage;
  info.usage_known = out.usage_known;
  info.usage_estimated = !out.usage_known;
  if (!ctx.chat.stream) {
    co_await sendCompletion(ctx, std::move(out.answer->body));
    co_return;
  }
  std::unique_ptr<upstream::ChatStream> buffered =
      std::make_unique<BufferedChatStream>(completionToChunks(out.answer->body, out.usage));
  co_await relayStream(ctx, std::move(buffered), std::nullopt);
}

asio::awaitable<Result<std::optional<std::string>>> BufferedChatStream::next() {
  if (next_ >= events_.size()) co_return std::optional<std::string>();
  co_return std::optional<std::string>(std::move(events_[next_++]));
}

}  // namespace rightsize::pipeline
