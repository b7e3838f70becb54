#pragma once
// Live reload (docs/reload.md): the gateway that serves new requests, replaced by a new one built
// from the config file on SIGHUP or POST /admin/reload, while requests in flight finish on the
// gateway they started on.
//
// Each request holds a reference-counted copy of the current Gateway for its whole life, so a
// retired gateway (its config, providers, breakers, routes and router files) lives until its last
// request ends. It is then shut down and destroyed on the reload thread, never inside a worker's
// coroutine. Settings that belong to services built once at startup (server.listen, server.threads,
// ledger.*, limits.*) cannot change without a restart: a config that changes them is refused.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "http/server.h"
#include "metrics/registry.h"
#include "server/auth.h"
#include "server/gateway.h"

namespace rightsize::server {

struct ReloadOutcome {
  enum class Kind { kOk, kInvalid, kRefused };
  Kind kind = Kind::kOk;
  std::string message;  // what was loaded, or why not
};
const char* reloadKindName(ReloadOutcome::Kind k);  // ok | invalid | refused

class LiveGateway {
 public:
  // Prepares a new gateway before it serves (Gateway::setAccounting, setKeyAuth).
  using Wiring = std::function<void(Gateway&)>;

  // `first` is the gateway built at startup from `first_cfg`, already wired. `config_path` is the
  // file reloads read (empty: started on the embedded defaults, every reload is refused).
  // `admin` authorizes POST /admin/reload (null: that endpoint answers 404). `registry` gets
  // rightsize_config_reloads_total{result} (null: not counted). `admin`, `registry` and whatever
  // `wire` attaches must outlive this object.
  LiveGateway(std::unique_ptr<Gateway> first, std::string config_path, Wiring wire, const KeyAuth* admin,
              metrics::Registry* registry);
  // Joins the reload thread (see join()).
  ~LiveGateway();
  LiveGateway(const LiveGateway&) = delete;
  LiveGateway& operator=(const LiveGateway&) = delete;

  // The http::Handler: POST /admin/reload here, every other request on the current gateway,
  // which it keeps alive until the request ends.
  asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& w);
  // The http::ErrorResponder, from the current gateway.
  http::Response errorResponse(int status, std::string message, std::string_view target) const;

  // Re-reads the config file and every router/replay file it names and, when valid and
  // reloadable, makes it current. Blocking (file reads): call it off the worker threads — SIGHUP
  // uses reloadInBackground(), /admin/reload runs it on the reload thread. Serialized;
  // thread-safe. Every outcome is logged once and counted.
  ReloadOutcome reload(std::string_view trigger);
  // reload() on the reload thread; returns at once.
  void reloadInBackground(std::string trigger);

  // /readyz answers 503 from now on, on this gateway and any later one; reloads are refused.
  void setDraining();
  // After the worker threads stopped, before their contexts are destroyed: waits for a reload
  // or retirement in progress, refuses any later reload, and shuts down (upstream pools) every
  // gateway still alive — the current one and retired ones that requests still hold.
  void shutdown();
  // After the worker contexts are destroyed (no request holds a gateway any more): releases the
  // current gateway and waits until every gateway is destroyed. Idempotent.
  void join();

 private:
  std::shared_ptr<Gateway> current() const;
  // Owns `gw`: when its last holder lets go, shut down and destroyed on the reload thread.
  std::shared_ptr<Gateway> adopt(std::unique_ptr<Gateway> gw);
  asio::awaitable<void> adminReload(http::Request& req, http::ResponseWriter& w);
  ReloadOutcome counted(ReloadOutcome o, std::string_view trigger);

  const std::string config_path_;
  const Wiring wire_;
  const KeyAuth* admin_;
  metrics::CounterFamily* reloads_total_ = nullptr;

  // One thread: reloads (serialized) and the destruction of retired gateways. Declared before the
  // gateways so it is still there when the last one goes.
  asio::thread_pool reload_thread_{1};
  std::mutex reload_mu_;  // one reload at a time; guards stopped_
  bool stopped_ = false;
  std::atomic<bool> draining_{false};

  mutable std::mutex mu_;  // guards current_ and alive_
  std::shared_ptr<Gateway> current_;
  std::vector<std::weak_ptr<Gateway>> alive_;  // every gateway not yet destroyed (expired ones pruned)
  bool joined_ = false;
};

}  // namespace rightsize::server
