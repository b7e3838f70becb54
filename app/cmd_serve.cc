// `rightsize serve`: run the gateway.
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/commands.h"
#include "config/config.h"
#include "http/server.h"
#include "http/workers.h"
#include "metrics/registry.h"
#include "server/accounting.h"
#include "server/gateway.h"
#include "server/live_gateway.h"
#include "limits/service.h"
#include "pipeline/shadow.h"

namespace rightsize::app {

namespace {

namespace asio = boost::asio;

std::string dataDir() {
  if (const char* d = std::getenv("RIGHTSIZE_DATA_DIR"); d && *d) return d;
#ifdef RIGHTSIZE_DEFAULT_DATA_DIR
  if (std::filesystem::exists(RIGHTSIZE_DEFAULT_DATA_DIR)) return RIGHTSIZE_DEFAULT_DATA_DIR;
#endif
  return "data";
}

void setupLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("rightsize");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

struct ServeOptions {
  std::string config_path;
  bool check = false;
};

int runServe(const ServeOptions& opt) {
  Result<config::Config> cfg = opt.config_path.empty() ? config::embeddedDefaults(dataDir())
                                                       : config::loadConfigFile(opt.config_path, config::processEnv());
  if (!cfg) {
    std::cerr << "rightsize: invalid configuration: " << cfg.error().message << "\n";
    return 2;
  }
  setupLogging(cfg->server.log_level);
  auto shared = std::make_shared<const config::Config>(std::move(*cfg));
  auto gw = server::Gateway::make(shared);
  if (!gw) {
    std::cerr << "rightsize: cannot start: " << gw.error().message << "\n";
    return 2;
  }
  if (opt.check) {
    std::cout << "configuration OK (" << shared->source << "): " << shared->providers.size() << " provider(s), "
              << shared->models.size() << " model(s), " << shared->routes.size() << " route(s)\n";
    return 0;
  }
  auto accounting = server::Accounting::make(*shared);
  if (!accounting) {
    std::cerr << "rightsize: cannot start: " << accounting.error().message << "\n";
    return 2;
  }
  // Virtual keys, budgets and rate limits (docs/limits.md).
  auto limits_svc = limits::LimitsService::make(shared->limits);
  if (!limits_svc) {
    std::cerr << "rightsize: cannot start: " << limits_svc.error().message << "\n";
    return 2;
  }
  const char* admin_env = std::getenv("RIGHTSIZE_ADMIN_KEY");
  server::KeyAuth key_auth(**limits_svc, admin_env ? admin_env : "");
  if (auto st = key_auth.registerMetrics((*accounting)->registry()); !st) {
    std::cerr << "rightsize: cannot start: " << st.error().message << "\n";
    return 2;
  }
  // Shadow evaluation (docs/shadow.md): one runner for every gateway, so the daily shadow spend
  // survives a reload. Its jobs run on the worker contexts: declared before them, it outlives them.
  const auto& sc = shared->server;
  size_t threads = sc.threads > 0 ? static_cast<size_t>(sc.threads) : std::max(1u, std::thread::hardware_concurrency());
  pipeline::ShadowSampler shadow_sampler;
  http::Workers* workers_ptr = nullptr;
  pipeline::ShadowRunner shadow(
      pipeline::ShadowRunner::Options{sc.shadow_queue, 4},
      [&workers_ptr]() -> asio::any_io_executor { return workers_ptr->next().get_executor(); }, shadow_sampler);
  // Every gateway, the first and each one a reload builds, shares the accounting, the keys and
  // the shadow runner.
  server::Accounting* acc = accounting->get();
  auto wire = [acc, &key_auth, &shadow](server::Gateway& g) {
    g.setAccounting(acc);
    g.setKeyAuth(&key_auth);
    g.setShadow(&shadow);
  };
  wire(**gw);
  // Live reload (docs/reload.md): SIGHUP and POST /admin/reload swap the gateway new requests get.
  server::LiveGateway live(std::move(*gw), opt.config_path, wire, &key_auth, &acc->registry());

  http::Workers workers(threads);
  workers_ptr = &workers;
  http::ServerLimits limits{sc.max_body_bytes, sc.max_header_bytes, sc.header_timeout, sc.read_timeout,
                            sc.idle_timeout,   sc.write_timeout,    sc.max_connections};
  server::LiveGateway* g = &live;
  http::Server srv(
      workers, limits, [g](http::Request& req, http::ResponseWriter& w) { return g->handle(req, w); },
      [g](int status, std::string msg, std::string_view target) { return g->errorResponse(status, std::move(msg), target); });
  auto ep = srv.listen(sc.listen_host, sc.listen_port);
  if (!ep) {
    std::cerr << "rightsize: " << ep.error().message << "\n";
    return 2;
  }
  auto open_gauge = acc->registry().addCallback(
      "rightsize_http_connections_open", "Client connections open now (server.max_connections caps them).",
      metrics::MetricType::kGauge, [&srv] { return static_cast<double>(srv.openConnections()); });
  auto refused_counter = acc->registry().addCallback(
      "rightsize_http_connections_refused_total",
      "Client connections closed unanswered because server.max_connections were open.", metrics::MetricType::kCounter,
      [&srv] { return static_cast<double>(srv.connectionsRefused()); });
  if (!open_gauge || !refused_counter) {
    std::cerr << "rightsize: cannot start: "
              << (open_gauge ? refused_counter.error().message : open_gauge.error().message) << "\n";
    return 2;
  }

  // Shutdown: the first SIGTERM/SIGINT drains (stop accepting, finish in-flight requests up to
  // drain_timeout); a second one stops at once.
  std::promise<void> stopped;
  std::atomic<bool> stopping{false};
  auto& ctl = workers.context(0);
  auto signals_owner = std::make_unique<asio::signal_set>(ctl, SIGINT, SIGTERM);
  auto timer_owner = std::make_unique<asio::steady_timer>(ctl);
  auto& signals = *signals_owner;
  auto& drain_timer = *timer_owner;
  // Then the shadow queue: the jobs of answered requests get what is left of the same deadline;
  // those still waiting or running at it are dropped, and the log says how many.
  size_t shadow_at_drain = 0;
  std::function<void(std::chrono::steady_clock::time_point)> poll_shadow = [&](auto deadline) {
    if (shadow.pending() == 0 || std::chrono::steady_clock::now() >= deadline) {
      const size_t dropped = shadow.stop();
      if (shadow_at_drain > 0 || dropped > 0) {
        const size_t drained = shadow_at_drain - std::min(shadow_at_drain, dropped);
        spdlog::info("shadow: {} job(s) drained, {} dropped at the drain deadline", drained, dropped);
      }
      if (!stopping.exchange(true)) stopped.set_value();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(10));
    drain_timer.async_wait([&, deadline](boost::system::error_code) { poll_shadow(deadline); });
  };
  std::function<void(std::chrono::steady_clock::time_point)> poll_drain = [&](auto deadline) {
    if (srv.inFlight() == 0 || std::chrono::steady_clock::now() >= deadline) {
      if (srv.inFlight() > 0) spdlog::warn("drain deadline passed with {} request(s) in flight", srv.inFlight());
      shadow_at_drain = shadow.pending();
      if (shadow_at_drain > 0)
        spdlog::info("shadow: draining {} job(s) until the drain deadline", shadow_at_drain);
      poll_shadow(deadline);
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(10));
    drain_timer.async_wait([&, deadline](boost::system::error_code) { poll_drain(deadline); });
  };
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (srv.draining()) {
      spdlog::warn("second signal: stopping now");
      if (const size_t dropped = shadow.stop(); dropped > 0) spdlog::info("shadow: {} job(s) dropped", dropped);
      if (!stopping.exchange(true)) stopped.set_value();
      return;
    }
    spdlog::info("signal {}: draining; {} request(s) in flight, waiting up to {} ms", sig, srv.inFlight(),
                 sc.drain_timeout.count());
    srv.stopAccepting();
    g->setDraining();
    poll_drain(std::chrono::steady_clock::now() + sc.drain_timeout);
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  // SIGHUP: reload the config on the reload thread; the outcome is logged and counted there.
  auto hup_owner = std::make_unique<asio::signal_set>(ctl, SIGHUP);
  std::function<void(boost::system::error_code, int)> on_hup = [&](boost::system::error_code ec, int) {
    if (ec) return;
    live.reloadInBackground("SIGHUP");
    hup_owner->async_wait(on_hup);
  };
  hup_owner->async_wait(on_hup);

  srv.start();
  workers.start();
  spdlog::info("rightsize listening on {}:{} ({} thread(s), config {})", ep->address().to_string(), ep->port(), threads,
               shared->source);
  stopped.get_future().wait();
  // Teardown order matters: stop the threads; release every I/O object that outlives the
  // coroutines (listener, signal set, timer, upstream pools); then destroy the contexts, which
  // destroys suspended sessions while the server and gateway they reference still exist.
  workers.stop();
  srv.closeAcceptor();
  signals_owner.reset();
  hup_owner.reset();
  timer_owner.reset();
  live.shutdown();  // the current gateway and retired ones requests still hold
  (*limits_svc)->stop();  // its thread posts to the worker contexts: stop it before they go
  workers.destroy();
  live.join();  // the suspended requests are gone: every gateway is destroyed now
  // Every request has been answered and recorded: write the ledger's queue out.
  (*accounting)->flushAndStop();
  spdlog::info("stopped after serving {} request(s)", srv.requestsServed());
  spdlog::default_logger()->flush();
  return 0;
}

}  // namespace

void addServeCommand(CLI::App& root, int& exit_code) {
  auto opt = std::make_shared<ServeOptions>();
  auto* cmd = root.add_subcommand("serve", "Run the gateway (without --config: the embedded defaults, serving "
                                           "recorded answers through the replay provider)");
  cmd->add_option("--config,-c", opt->config_path, "YAML configuration file")->check(CLI::ExistingFile);
  cmd->add_flag("--check", opt->check, "Validate the configuration (and load replay data and router files), then exit");
  cmd->callback([opt, &exit_code] { exit_code = runServe(*opt); });
}

}  // namespace rightsize::app
