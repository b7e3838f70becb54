#include "server/live_gateway.h"

#include <future>
#include <tuple>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/strings.h"

namespace rightsize::server {

namespace bhttp = http::bhttp;

const char* reloadKindName(ReloadOutcome::Kind k) {
  switch (k) {
    case ReloadOutcome::Kind::kOk: return "ok";
    case ReloadOutcome::Kind::kInvalid: return "invalid";
    case ReloadOutcome::Kind::kRefused: return "refused";
  }
  return "?";
}

namespace {

// Field by field: config.h stays free of comparison operators only this file needs.
bool sameLedger(const config::LedgerConfig& a, const config::LedgerConfig& b) {
  return std::tie(a.kind, a.path, a.dsn, a.store_prompts, a.spill_path, a.store_responses, a.response_retention_days) ==
         std::tie(b.kind, b.path, b.dsn, b.store_prompts, b.spill_path, b.store_responses, b.response_retention_days);
}
bool sameLimits(const config::LimitsConfig& a, const config::LimitsConfig& b) {
  return std::tie(a.kind, a.url, a.keys_file, a.on_error, a.timeout) ==
         std::tie(b.kind, b.url, b.keys_file, b.on_error, b.timeout);
}
// server.* but listen, threads and log_level: the listener's limits and timeouts.
bool sameListenerLimits(const config::ServerConfig& a, const config::ServerConfig& b) {
  return std::tie(a.max_body_bytes, a.max_header_bytes, a.header_timeout, a.read_timeout, a.idle_timeout,
                  a.write_timeout, a.drain_timeout, a.max_connections) ==
         std::tie(b.max_body_bytes, b.max_header_bytes, b.header_timeout, b.read_timeout, b.idle_timeout,
                  b.write_timeout, b.drain_timeout, b.max_connections);
}

// The settings a running gateway cannot take from a reload: the listener, the worker threads and
// the services built once at startup (the ledger writer and response store, the key store and
// its limiter). Empty when none changed.
std::vector<std::string> restartOnlyChanges(const config::Config& was, const config::Config& now) {
  std::vector<std::string> changed;
  if (was.server.listen_host != now.server.listen_host || was.server.listen_port != now.server.listen_port)
    changed.push_back("server.listen");
  if (was.server.threads != now.server.threads) changed.push_back("server.threads");
  if (!sameLedger(was.ledger, now.ledger)) changed.push_back("ledger");
  if (!sameLimits(was.limits, now.limits)) changed.push_back("limits");
  return changed;
}

}  // namespace

LiveGateway::LiveGateway(std::unique_ptr<Gateway> first, std::string config_path, Wiring wire, const KeyAuth* admin,
                         metrics::Registry* registry)
    : config_path_(std::move(config_path)), wire_(std::move(wire)), admin_(admin) {
  if (registry) {
    auto f = registry->addCounter("rightsize_config_reloads_total",
                                  "Configuration reloads (SIGHUP, POST /admin/reload) by result: ok, invalid "
                                  "(the file or a file it names does not load), refused (a change that needs a restart)",
                                  {"result"});
    // Only a duplicate name can fail: a second LiveGateway on one registry, which counts nothing.
    if (f) reloads_total_ = *f;
  }
  current_ = adopt(std::move(first));
  alive_.push_back(current_);
}

LiveGateway::~LiveGateway() { join(); }

std::shared_ptr<Gateway> LiveGateway::adopt(std::unique_ptr<Gateway> gw) {
  // The last holder may be a request coroutine finishing on a worker thread, or the reload that
  // retired it: in both, the gateway is destroyed later, on the reload thread, with nothing of it
  // on any stack. Its idle upstream connections are closed from that thread (HttpClient::closeAll
  // is thread-safe; an idle connection has no pending operation).
  asio::thread_pool* pool = &reload_thread_;
  return std::shared_ptr<Gateway>(gw.release(), [pool](Gateway* g) {
    asio::post(*pool, [g] {
      g->shutdown();
      delete g;
    });
  });
}

std::shared_ptr<Gateway> LiveGateway::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

asio::awaitable<void> LiveGateway::handle(http::Request& req, http::ResponseWriter& w) {
  std::string_view target = req.target();
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (target == "/admin/reload") {
    co_await adminReload(req, w);
    co_return;
  }
  // This frame holds the gateway until the request is over, whatever reloads meanwhile.
  std::shared_ptr<Gateway> gw = current();
  co_await gw->handle(req, w);
}

http::Response LiveGateway::errorResponse(int status, std::string message, std::string_view target) const {
  std::shared_ptr<Gateway> gw = current();
  if (!gw) return http::jsonResponse(static_cast<unsigned>(status), "{}");  // after join(): nothing serves
  return gw->errorResponse(status, std::move(message), target);
}

asio::awaitable<void> LiveGateway::adminReload(http::Request& req, http::ResponseWriter& w) {
  // GCC 12 can destroy temporaries of a co_await full-expression twice: named locals (gateway.cc).
  http::Response res;
  std::optional<http::Response> refused;
  if (!admin_) {
    res = errorResponse(404, "the admin API is off: start the gateway with RIGHTSIZE_ADMIN_KEY set", {});
  } else if ((refused = admin_->refuseNonAdmin(req))) {
    res = std::move(*refused);
  } else if (req.method() != bhttp::verb::post) {
    res = errorResponse(405, "use POST for /admin/reload", {});
  } else {
    // Off the worker: the reload reads files. The request resumes on its own executor.
    auto run = [](LiveGateway* self) -> asio::awaitable<ReloadOutcome> { co_return self->reload("POST /admin/reload"); };
    ReloadOutcome o = co_await asio::co_spawn(reload_thread_, run(this), asio::use_awaitable);
    unsigned status = o.kind == ReloadOutcome::Kind::kOk ? 200 : o.kind == ReloadOutcome::Kind::kInvalid ? 400 : 409;
    res = http::jsonResponse(status, fmt::format(R"({{"result":"{}","message":{}}})", reloadKindName(o.kind),
                                                 jsonString(o.message)));
  }
  co_await w.send(std::move(res));
}

void LiveGateway::reloadInBackground(std::string trigger) {
  asio::post(reload_thread_, [this, trigger = std::move(trigger)] { reload(trigger); });
}

ReloadOutcome LiveGateway::counted(ReloadOutcome o, std::string_view trigger) {
  switch (o.kind) {
    case ReloadOutcome::Kind::kOk:
      spdlog::info("config reload ({}): {}", trigger, o.message);
      break;
    case ReloadOutcome::Kind::kInvalid:
      spdlog::error("config reload ({}) invalid, the current configuration keeps serving: {}", trigger, o.message);
      break;
    case ReloadOutcome::Kind::kRefused:
      spdlog::warn("config reload ({}) refused, the current configuration keeps serving: {}", trigger, o.message);
      break;
  }
  if (reloads_total_) reloads_total_->labels({reloadKindName(o.kind)}).inc();
  return o;
}

ReloadOutcome LiveGateway::reload(std::string_view trigger) {
  using Kind = ReloadOutcome::Kind;
  std::lock_guard reload_lock(reload_mu_);
  if (stopped_ || draining_) return counted({Kind::kRefused, "the gateway is shutting down"}, trigger);
  if (config_path_.empty()) {
    return counted({Kind::kRefused, "started without --config (the embedded defaults): there is no file to reload"},
                   trigger);
  }
  auto cfg = config::loadConfigFile(config_path_, config::processEnv());
  if (!cfg) return counted({Kind::kInvalid, cfg.error().message}, trigger);
  std::shared_ptr<Gateway> old = current();
  const config::Config& was = old->config();
  if (auto changed = restartOnlyChanges(was, *cfg); !changed.empty()) {
    std::string names;
    for (const auto& c : changed) names += (names.empty() ? "" : ", ") + c;
    return counted({Kind::kRefused, fmt::format("{} cannot change without a restart", names)}, trigger);
  }
  // The rest of server.* (HTTP limits and timeouts, drain_timeout) belongs to the listener built
  // at startup: kept, and said so. log_level applies at once.
  if (!sameListenerLimits(cfg->server, was.server)) {
    spdlog::warn("config reload ({}): server limits and timeouts apply at the next restart; the running ones are kept",
                 trigger);
  }
  auto shared = std::make_shared<const config::Config>(std::move(*cfg));
  auto made = Gateway::make(shared);
  if (!made) return counted({Kind::kInvalid, made.error().message}, trigger);
  wire_(**made);
  if (draining_) (*made)->setDraining();
  if (shared->server.log_level != was.server.log_level)
    spdlog::set_level(spdlog::level::from_str(shared->server.log_level));
  std::shared_ptr<Gateway> fresh = adopt(std::move(*made));
  {
    std::lock_guard lock(mu_);
    std::erase_if(alive_, [](const std::weak_ptr<Gateway>& g) { return g.expired(); });
    alive_.push_back(fresh);
    current_.swap(fresh);
  }
  // `fresh` and `old` now hold the retired gateway: it goes when the last request on it ends.
  return counted({Kind::kOk, fmt::format("{} loaded: {} provider(s), {} model(s), {} route(s)", shared->source,
                                         shared->providers.size(), shared->models.size(), shared->routes.size())},
                 trigger);
}

void LiveGateway::setDraining() {
  draining_ = true;
  if (auto gw = current()) gw->setDraining();
}

void LiveGateway::shutdown() {
  {
    std::lock_guard reload_lock(reload_mu_);  // waits for a reload in progress
    stopped_ = true;
  }
  // Retirements already posted run first (one thread, in order).
  std::promise<void> done;
  asio::post(reload_thread_, [&done] { done.set_value(); });
  done.get_future().wait();
  std::lock_guard lock(mu_);
  for (const auto& weak : alive_)
    if (auto g = weak.lock()) g->shutdown();
}

void LiveGateway::join() {
  {
    std::lock_guard lock(mu_);
    if (joined_) return;
    joined_ = true;
    current_.reset();
    alive_.clear();
  }
  reload_thread_.join();  // runs the retirements still queued, then ends
}

}  // namespace rightsize::server
