#include "evals/runner.h"

#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>

#include <fmt/format.h>
#include <simdjson.h>

#include "api/chat_request.h"
#include "common/money.h"
#include "common/strings.h"
#include "routing/cost_estimate.h"
#include "evals/outcomes.h"
#include "http/asio.h"
#include "http/client.h"
#include "upstream/provider.h"

namespace rightsize::evals {
namespace {

namespace asio = boost::asio;
using Millis = std::chrono::milliseconds;

std::string jsonNumber(double v) { return fmt::format("{:.10g}", v); }

// Canonical compact form of JSON text (so a suite's messages compare equal to a file's).
std::string canonicalJson(const std::string& json) {
  if (json.empty()) return json;
  simdjson::dom::parser p;
  simdjson::dom::element el;
  if (p.parse(json).get(el) != simdjson::SUCCESS) return json;
  return simdjson::minify(el);
}

bool isGzipName(const std::string& path) { return path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0; }

Result<void> writeWhole(const std::string& path, const std::string& text) {
  if (isGzipName(path)) {
    gzFile f = gzopen(path.c_str(), "wb6");
    if (!f) return fail(ErrorCode::kIo, "cannot write '" + path + "'");
    size_t off = 0;
    while (off < text.size()) {
      const unsigned n = static_cast<unsigned>(std::min<size_t>(text.size() - off, 1u << 20));
      if (gzwrite(f, text.data() + off, n) != static_cast<int>(n)) {
        gzclose(f);
        return fail(ErrorCode::kIo, "cannot write '" + path + "'");
      }
      off += n;
    }
    if (gzclose(f) != Z_OK) return fail(ErrorCode::kIo, "cannot finish '" + path + "'");
    return {};
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return fail(ErrorCode::kIo, "cannot write '" + path + "'");
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) return fail(ErrorCode::kIo, "cannot write '" + path + "'");
  return {};
}

double numberOf(simdjson::dom::element v, bool& ok) {
  double d;
  int64_t i;
  uint64_t u;
  ok = true;
  if (v.get(d) == simdjson::SUCCESS) return d;
  if (v.get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  if (v.get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  ok = false;
  return 0;
}

Millis backoff(const config::RetryConfig& r, int attempt_no) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  const int64_t cap = std::min<int64_t>(r.max_backoff.count(), r.base_backoff.count() << std::min(attempt_no, 20));
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(cap, 0));
  return Millis(dist(gen));
}

struct CallOk {
  std::string text;
  int64_t tokens_in = 0, tokens_out = 0;
  double cost_usd = 0;
  double latency_ms = 0;
  int attempts = 0;
};

struct Job {
  size_t result;       // index into RunSummary::results
  size_t case_index;   // index into Suite::cases
  std::string model;
};

class Run {
 public:
  Run(const Suite& suite, const config::Config& gw, const RunOptions& opt, RunSummary& sum)
      : suite_(suite), gw_(gw), opt_(opt), sum_(sum) {}

  std::map<std::string, std::unique_ptr<upstream::Provider>> providers;
  std::vector<Job> jobs;
  std::vector<size_t> pending;   // per result: cells still to run
  std::FILE* journal = nullptr;
  Result<void> journal_status;

  asio::awaitable<void> worker() {
    while (next_ < jobs.size()) {
      const Job job = jobs[next_++];
      Cell cell = co_await runCell(job);
      CaseResult& r = sum_.results[job.result];
      r.cells[job.model] = std::move(cell);
      ++sum_.cells_run;
      if (!r.cells[job.model].scored) ++sum_.cells_failed;
      if (--pending[job.result] == 0) writeJournal(r);
      if (opt_.progress) opt_.progress(sum_.cells_run, jobs.size(), sum_.cells_failed);
    }
  }

 private:
  void writeJournal(const CaseResult& r) {
    if (!journal || !journal_status) return;
    const std::string line = outcomeLine(r) + "\n";
    if (std::fwrite(line.data(), 1, line.size(), journal) != line.size() || std::fflush(journal) != 0)
      journal_status = fail(ErrorCode::kIo, "cannot append to the journal " + opt_.out + ".partial.jsonl");
  }

  // The request body for one call: the case's messages, the suite's sampling settings.
  std::string requestBody(const config::ModelConfig& m, const std::string& messages_json) const {
    std::string b = "{\"model\":";
    appendJsonString(b, m.id);
    b += ",\"messages\":" + messages_json;
    if (suite_.cfg.max_tokens) b += fmt::format(",\"max_tokens\":{}", *suite_.cfg.max_tokens);
    if (suite_.cfg.temperature) b += ",\"temperature\":" + jsonNumber(*suite_.cfg.temperature);
    b += "}";
    return b;
  }

  static std::string promptMessages(const std::string& system, const std::string& prompt) {
    std::string m = "[";
    if (!system.empty()) {
      m += "{\"role\":\"system\",\"content\":";
      appendJsonString(m, system);
      m += "},";
    }
    m += "{\"role\":\"user\",\"content\":";
    appendJsonString(m, prompt);
    m += "}]";
    return m;
  }

  // One model call with retries. Error: the last failure's message.
  asio::awaitable<Result<CallOk>> call(const std::string& model_name, const std::string& messages_json) {
    const config::ModelConfig& m = gw_.models.at(model_name);
    auto& provider = *providers.at(m.provider);
    const auto& pcfg = provider.config();
    std::string body = requestBody(m, messages_json);
    auto req = api::parseChatRequest(body);
    if (!req) co_return fail(ErrorCode::kInvalidArgument, "cannot build the request: " + req.error().message);
    api::Rewrite rw;
    rw.model_id = m.id;
    if (m.max_output_tokens) rw.max_tokens_cap = *m.max_output_tokens;
    auto up = api::rewriteChatRequest(body, rw);
    if (!up) co_return fail(up.error());
    upstream::ChatCall c;
    c.request = &*req;
    c.body = std::move(*up);
    c.model_id = m.id;
    const int max_attempts = suite_.cfg.max_attempts.value_or(pcfg.retry.max_attempts);
    Error last{ErrorCode::kUpstreamError, "no attempt made"};
    for (int attempt = 1; attempt <= max_attempts; ++attempt) {
      ++sum_.calls;
      const auto t0 = std::chrono::steady_clock::now();
      auto res = co_await provider.complete(c);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (res) {
        CallOk ok;
        ok.latency_ms = ms;
        ok.attempts = attempt;
        auto text = responseText(res->body);
        if (!text) co_return fail(text.error());
        ok.text = std::move(*text);
        // No usage reported: estimate, as the gateway does.
        const api::Usage u = res->usage ? *res->usage
                                        : api::Usage{api::estimateTokens(req->content_chars),
                                                     api::estimateTokens(ok.text.size())};
        ok.tokens_in = u.prompt_tokens;
        ok.tokens_out = u.completion_tokens;
        ok.cost_usd = nanosToUsd(routing::callCost(m, u));
        sum_.spent_usd += ok.cost_usd;
        co_return ok;
      }
      const upstream::CallError ce = res.error();
      last = ce.error;
      if (!ce.retryable || attempt == max_attempts) break;
      Millis wait = backoff(pcfg.retry, attempt - 1);
      if (ce.retry_after) {
        if (*ce.retry_after > pcfg.retry.max_retry_after) break;
        wait = *ce.retry_after;
      }
      asio::steady_timer t(co_await asio::this_coro::executor, wait);
      co_await t.async_wait(http::use_nothrow);
    }
    co_return fail(last);
  }

  static Result<std::string> responseText(const std::string& body) {
    simdjson::dom::parser p;
    simdjson::dom::element el;
    if (p.parse(body).get(el) != simdjson::SUCCESS)
      return fail(ErrorCode::kUpstreamError, "upstream reply is not JSON");
    auto content = el["choices"].at(0)["message"]["content"];
    std::string_view s;
    if (content.get(s) == simdjson::SUCCESS) return std::string(s);
    if (!content.error() && content.is_null()) return std::string();
    return fail(ErrorCode::kUpstreamError, "upstream reply has no choices[0].message.content");
  }

  asio::awaitable<Cell> runCell(const Job& job) {
    const EvalCase& ec = suite_.cases[job.case_index];
    Cell cell;
    const std::string msgs = ec.messages_json.empty() ? promptMessages(suite_.cfg.system, ec.prompt) : ec.messages_json;
    auto ans = co_await call(job.model, msgs);
    if (!ans) {
      cell.error = ans.error().message;
      co_return cell;
    }
    cell.response = std::move(ans->text);
    cell.cost_usd = ans->cost_usd;
    cell.latency_ms = ans->latency_ms;
    cell.tokens_in = ans->tokens_in;
    cell.tokens_out = ans->tokens_out;
    cell.attempts = ans->attempts;
    if (!ec.grader->isJudge()) {
      Grade g = ec.grader->grade(cell.response, ec.expected);
      cell.score = g.score;
      cell.detail = std::move(g.detail);
      cell.scored = true;
      co_return cell;
    }
    const auto& gc = ec.grader->config();
    const std::string jp = judgePrompt(gc.rubric.value_or(""), ec.ask, ec.expected, cell.response);
    const std::string judge_messages = promptMessages("", jp);  // named: no temporaries inside co_await (g++ 12)
    auto verdict = co_await call(*gc.model, judge_messages);
    if (!verdict) {
      cell.error = "judge " + *gc.model + ": " + verdict.error().message;
      co_return cell;
    }
    cell.judge_cost_usd = verdict->cost_usd;
    auto score = parseJudgeScore(verdict->text);
    if (!score) {
      cell.error = "judge " + *gc.model + ": " + score.error().message;
      co_return cell;
    }
    cell.score = *score;
    cell.detail = "judge: " + std::string(trim(verdict->text)).substr(0, 300);
    cell.scored = true;
    co_return cell;
  }

  const Suite& suite_;
  const config::Config& gw_;
  const RunOptions& opt_;
  RunSummary& sum_;
  size_t next_ = 0;
};

}  // namespace

std::string outcomeLine(const CaseResult& r) {
  std::string s = "{\"id\":";
  appendJsonString(s, r.id);
  s += ",\"task\":";
  appendJsonString(s, r.task);
  if (!r.messages_json.empty()) {
    s += ",\"messages\":" + r.messages_json;
  } else {
    s += ",\"prompt\":";
    appendJsonString(s, r.prompt);
  }
  s += ",\"expected\":";
  appendJsonString(s, r.expected);
  s += ",\"outcomes\":{";
  bool first = true;
  for (const auto& [model, c] : r.cells) {
    if (!c.scored) continue;
    if (!first) s += ',';
    first = false;
    appendJsonString(s, model);
    s += ":{\"score\":" + jsonNumber(c.score) + ",\"cost_usd\":" + jsonNumber(c.cost_usd) + ",\"response\":";
    appendJsonString(s, c.response);
    s += ",\"latency_ms\":" + jsonNumber(c.latency_ms) + fmt::format(",\"tokens_in\":{},\"tokens_out\":{},\"attempts\":{}",
                                                              c.tokens_in, c.tokens_out, c.attempts);
    if (c.judge_cost_usd > 0) s += ",\"judge_cost_usd\":" + jsonNumber(c.judge_cost_usd);
    if (!c.detail.empty()) {
      s += ",\"detail\":";
      appendJsonString(s, c.detail);
    }
    s += '}';
  }
  s += '}';
  bool any_error = false;
  for (const auto& [model, c] : r.cells) {
    if (c.scored) continue;
    s += any_error ? "," : ",\"errors\":{";
    any_error = true;
    appendJsonString(s, model);
    s += ':';
    appendJsonString(s, c.error);
  }
  if (any_error) s += '}';
  s += '}';
  return s;
}

Result<std::map<std::string, CaseResult>> readResults(const std::string& path, bool tolerate_torn_tail) {
  std::map<std::string, CaseResult> out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return out;
  auto text = readMaybeGzip(path);
  if (!text) return fail(text.error());
  simdjson::dom::parser parser;
  size_t pos = 0, line_no = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    const bool last = nl == std::string::npos;
    if (last) nl = text->size();
    const std::string_view line(text->data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (trim(line).empty()) continue;
    const std::string where = fmt::format("{}:{}", path, line_no);
    simdjson::dom::element el;
    simdjson::dom::object obj;
    if (parser.parse(line.data(), line.size()).get(el) != simdjson::SUCCESS || el.get(obj) != simdjson::SUCCESS) {
      if (tolerate_torn_tail && last) break;  // the line an interrupted run was writing
      return fail(ErrorCode::kCorruptData, where + ": not a JSON object");
    }
    CaseResult r;
    std::string_view s;
    int64_t iid;
    if (obj["id"].get(s) == simdjson::SUCCESS) r.id = std::string(s);
    else if (obj["id"].get(iid) == simdjson::SUCCESS) r.id = std::to_string(iid);
    else return fail(ErrorCode::kCorruptData, where + ": missing \"id\"");
    if (obj["task"].get(s) == simdjson::SUCCESS) r.task = std::string(s);
    if (obj["prompt"].get(s) == simdjson::SUCCESS) r.prompt = std::string(s);
    simdjson::dom::element msgs;
    if (obj["messages"].get(msgs) == simdjson::SUCCESS) r.messages_json = simdjson::minify(msgs);
    simdjson::dom::element exp;
    if (obj["expected"].get(exp) == simdjson::SUCCESS) {
      if (exp.get(s) == simdjson::SUCCESS) r.expected = std::string(s);
      else if (!exp.is_null()) r.expected = simdjson::minify(exp);
    }
    simdjson::dom::object outcomes;
    if (obj["outcomes"].get(outcomes) == simdjson::SUCCESS) {
      for (auto [model, o] : outcomes) {
        Cell c;
        bool ok = false;
        simdjson::dom::element v;
        if (o["score"].get(v) != simdjson::SUCCESS || (c.score = numberOf(v, ok), !ok) || !(c.score >= 0 && c.score <= 1))
          return fail(ErrorCode::kCorruptData, fmt::format("{}: outcome of '{}' has no score in [0, 1]", where, model));
        if (o["cost_usd"].get(v) == simdjson::SUCCESS) c.cost_usd = numberOf(v, ok);
        if (o["judge_cost_usd"].get(v) == simdjson::SUCCESS) c.judge_cost_usd = numberOf(v, ok);
        if (o["latency_ms"].get(v) == simdjson::SUCCESS) c.latency_ms = numberOf(v, ok);
        if (o["tokens_in"].get(v) == simdjson::SUCCESS) c.tokens_in = static_cast<int64_t>(numberOf(v, ok));
        if (o["tokens_out"].get(v) == simdjson::SUCCESS) c.tokens_out = static_cast<int64_t>(numberOf(v, ok));
        if (o["attempts"].get(v) == simdjson::SUCCESS) c.attempts = static_cast<int>(numberOf(v, ok));
        if (o["response"].get(s) == simdjson::SUCCESS) c.response = std::string(s);
        if (o["detail"].get(s) == simdjson::SUCCESS) c.detail = std::string(s);
        c.scored = true;
        r.cells[std::string(model)] = std::move(c);
      }
    }
    simdjson::dom::object errors;
    if (obj["errors"].get(errors) == simdjson::SUCCESS) {
      for (auto [model, e] : errors) {
        if (r.cells.count(std::string(model))) continue;
        Cell c;
        if (e.get(s) == simdjson::SUCCESS) c.error = std::string(s);
        r.cells[std::string(model)] = std::move(c);
      }
    }
    out[r.id] = std::move(r);  // a later line (the journal) replaces an earlier one
  }
  return out;
}

Result<RunSummary> runSuite(const Suite& suite, const config::Config& gw_in, const RunOptions& opt) {
  // Our own copy of the config: the suite's timeout lowers the providers' own timeouts, so a
  // hanging upstream ends as a timeout error through the provider's normal path.
  config::Config gw = gw_in;
  if (suite.cfg.timeout_ms) {
    const Millis t(*suite.cfg.timeout_ms);
    for (auto& [name, p] : gw.providers) {
      p.first_byte_timeout = std::min(p.first_byte_timeout, t);
      p.idle_timeout = std::min(p.idle_timeout, t);
      p.connect_timeout = std::min(p.connect_timeout, t);
    }
  }
  const std::string journal_path = opt.out + ".partial.jsonl";
  auto done_before = readResults(opt.out, false);
  if (!done_before) return fail(done_before.error());
  auto journal_before = readResults(journal_path, true);
  if (!journal_before) return fail(journal_before.error());
  for (auto& [id, r] : *journal_before) (*done_before)[id] = std::move(r);

  RunSummary sum;
  std::set<std::string> suite_ids;
  for (const auto& c : suite.cases) {
    suite_ids.insert(c.id);
    CaseResult r;
    r.id = c.id;
    r.task = c.task;
    r.prompt = c.prompt;
    r.messages_json = canonicalJson(c.messages_json);
    r.expected = c.expected;
    auto old = done_before->find(c.id);
    // Earlier cells count only when they answered this very case (same prompt and expected).
    if (old != done_before->end() && old->second.prompt == r.prompt &&
        canonicalJson(old->second.messages_json) == r.messages_json && old->second.expected == r.expected) {
      for (auto& [m, cell] : old->second.cells)
        if (cell.scored) r.cells[m] = std::move(cell);
    }
    sum.results.push_back(std::move(r));
  }
  // Records of earlier runs that are not in this suite stay in OUT untouched.
  std::vector<CaseResult> foreign;
  for (auto& [id, r] : *done_before)
    if (!suite_ids.count(id)) foreign.push_back(std::move(r));

  // Only the providers this suite needs are built (a replay provider loads its data file).
  std::set<std::string> models(suite.cfg.candidates.begin(), suite.cfg.candidates.end());
  for (const auto& c : suite.cases)
    if (c.grader->isJudge()) models.insert(*c.grader->config().model);

  // Declared before `run` so that the providers (and any pooled sockets) go before the
  // io_context and the TLS context they were made with.
  asio::io_context ioc;
  auto tls = http::makeClientTlsContext();
  Run run(suite, gw, opt, sum);
  for (const auto& m : models) {
    const std::string& pname = gw.models.at(m).provider;
    if (run.providers.count(pname)) continue;
    auto p = upstream::makeProvider(gw.providers.at(pname), *tls);
    if (!p) return fail(ErrorCode::kInvalidArgument, p.error().message);
    run.providers.emplace(pname, std::move(*p));
  }
  run.pending.assign(sum.results.size(), 0);
  for (size_t i = 0; i < sum.results.size(); ++i)
    for (const auto& m : suite.cfg.candidates) {
      ++sum.cells_total;
      auto it = sum.results[i].cells.find(m);
      if (it != sum.results[i].cells.end() && it->second.scored) {
        ++sum.cells_skipped;
        continue;
      }
      run.jobs.push_back(Job{i, i, m});
      ++run.pending[i];
    }

  if (!run.jobs.empty()) {
    run.journal = std::fopen(journal_path.c_str(), "ab");
    if (!run.journal) return fail(ErrorCode::kIo, "cannot write the journal '" + journal_path + "'");
    const size_t workers = std::min<size_t>(static_cast<size_t>(suite.cfg.concurrency), run.jobs.size());
    for (size_t w = 0; w < workers; ++w) asio::co_spawn(ioc, run.worker(), asio::detached);
    ioc.run();
    for (auto& [n, p] : run.providers) p->shutdown();
    std::fclose(run.journal);
    run.journal = nullptr;
    if (!run.journal_status) return fail(run.journal_status.error());
  }

  // Rewrite OUT whole (earlier records, this run's, foreign ones), then drop the journal.
  std::string text;
  for (const auto& r : sum.results) text += outcomeLine(r) + "\n";
  for (const auto& r : foreign) text += outcomeLine(r) + "\n";
  const std::string tmp = opt.out + ".tmp";
  if (auto w = writeWhole(isGzipName(opt.out) ? tmp + ".gz" : tmp, text); !w) return fail(w.error());
  std::error_code ec;
  std::filesystem::rename(isGzipName(opt.out) ? tmp + ".gz" : tmp, opt.out, ec);
  if (ec) return fail(ErrorCode::kIo, "cannot replace '" + opt.out + "': " + ec.message());
  std::filesystem::remove(journal_path, ec);
  return sum;
}

}  // namespace rightsize::evals
