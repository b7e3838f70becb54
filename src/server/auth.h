#pragma once
// Virtual keys at the gateway: who may call (401), whether their budgets and rate limits allow
// it (429 + Retry-After), settling the real cost afterwards, and the admin API for keys
// (/admin/keys, authorized by RIGHTSIZE_ADMIN_KEY). Keys never reach a log: only their ids.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/server.h"
#include "limits/service.h"
#include "metrics/registry.h"
#include "server/response_shape.h"

namespace rightsize::server {

namespace asio = boost::asio;

class KeyAuth {
 public:
  // `svc` must outlive this object. An empty `admin_key` turns the admin API off (404).
  KeyAuth(limits::LimitsService& svc, std::string admin_key) : svc_(svc), admin_key_(std::move(admin_key)) {}

  // The key a client presented: "Authorization: Bearer <key>", else "x-api-key: <key>"; empty
  // when neither is there.
  static std::string_view presentedKey(const http::Request& req);

  // The caller's key; null when no key exists at all (the gateway is open). Errors: 401
  // (missing, unknown, malformed or revoked key) and 503 (the key table could not be loaded yet).
  Result<std::shared_ptr<const limits::KeyRecord>> authenticate(const http::Request& req) const;

  // Admission of one request of `key` estimated at `est_tokens` and `est_cost`.
  asio::awaitable<limits::Admission> admit(const limits::KeyRecord& key, int64_t est_tokens, Nanos est_cost);
  // The response for a refused admission: 429 with Retry-After, or 503 (limits store down and
  // limits.on_error: closed). The error body is `shape`'s (null: OpenAI's).
  static http::Response refusal(const limits::Admission& a, const ResponseShape* shape = nullptr);
  // Settles an admission with what the request really used.
  void settle(const limits::Admission& a, bool success, int64_t tokens, Nanos cost) {
    svc_.settle(a, limits::Settlement{success, tokens, cost});
  }

  // Whether `req` carries the admin key: nothing when it does; else the answer to send (404 when
  // the admin API is off, 401 for a missing or wrong key). Used by every /admin endpoint.
  std::optional<http::Response> refuseNonAdmin(const http::Request& req) const;

  // Handles /admin/keys (GET list, POST create) and /admin/keys/<id> (DELETE revoke, GET one).
  asio::awaitable<http::Response> admin(const http::Request& req, std::string_view target);

  limits::LimitsService& service() { return svc_; }

  // The limiter's counters, through the registry (/metrics):
  // rightsize_limits_refused_total, rightsize_limits_backend_errors_total,
  // rightsize_limits_failed_open_total, rightsize_limits_failed_closed_total.
  // Registered as render-time callbacks: the counters live in the LimitsService.
  Result<void> registerMetrics(metrics::Registry& registry) const;

 private:
  limits::LimitsService& svc_;
  std::string admin_key_;
};

}  // namespace rightsize::server
