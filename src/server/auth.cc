#include "server/auth.h"

#include <cmath>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "api/errors.h"
#include "common/strings.h"

namespace rightsize::server {

namespace bhttp = http::bhttp;
using limits::LimitsService;

namespace {

http::Response errorJson(const Error& e) { return http::jsonResponse(static_cast<unsigned>(api::httpStatus(e)), api::errorBody(e)); }

bool sameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string_view KeyAuth::presentedKey(const http::Request& req) {
  std::string_view h = req[bhttp::field::authorization];
  if (!h.empty()) {
    if (h.size() > 7 && iequals(h.substr(0, 7), "bearer ")) return trim(h.substr(7));
    return trim(h);
  }
  return trim(req["x-api-key"]);
}

Result<std::shared_ptr<const limits::KeyRecord>> KeyAuth::authenticate(const http::Request& req) const {
  auto r = svc_.authenticate(presentedKey(req));
  switch (r.status) {
    case LimitsService::AuthStatus::kNoKeysConfigured: return std::shared_ptr<const limits::KeyRecord>();
    case LimitsService::AuthStatus::kOk: return std::move(r.key);
    case LimitsService::AuthStatus::kMissing:
      return fail(ErrorCode::kUnauthorized,
                  "this gateway requires an API key: send it as 'Authorization: Bearer <key>' (create one with "
                  "`rightsize keys create`)");
    case LimitsService::AuthStatus::kInvalid:
      return fail(ErrorCode::kUnauthorized, "invalid API key (unknown, or not a rightsize key)");
    case LimitsService::AuthStatus::kRevoked: return fail(ErrorCode::kUnauthorized, "this API key has been revoked");
    case LimitsService::AuthStatus::kNotLoaded:
      return fail(ErrorCode::kUnavailable, "the key store has not been loaded yet (is redis reachable?); try again");
  }
  return fail(ErrorCode::kInternal, "unreachable");
}

asio::awaitable<limits::Admission> KeyAuth::admit(const limits::KeyRecord& key, int64_t est_tokens,
                                                  Nanos est_cost) {
  limits::AdmitRequest r;
  r.key_id = key.id;
  r.limits = key.limits;
  r.est_tokens = est_tokens;
  r.est_nanos = est_cost;
  r.now = limits::SysClock::now();
  // Never a temporary with a destructor inside a co_await (g++ 12): build the awaitable first.
  auto op = svc_.admit(std::move(r));
  auto a = co_await std::move(op);
  co_return a;
}

http::Response KeyAuth::refusal(const limits::Admission& a, const ResponseShape* shape) {
  const Error e{a.backend_error ? ErrorCode::kUnavailable : ErrorCode::kRateLimited, a.message, 0};
  auto res = http::jsonResponse(static_cast<unsigned>(api::httpStatus(e)), shape ? shape->errorBody(e) : api::errorBody(e));
  if (!a.backend_error)
    res.insert(bhttp::field::retry_after, std::to_string(std::max<int64_t>(1, a.retry_after.count())));
  return res;
}

Result<void> KeyAuth::registerMetrics(metrics::Registry& registry) const {
  const auto& st = svc_.stats();
  const struct {
    const char* name;
    const char* help;
    const std::atomic<uint64_t>& value;
  } counters[] = {
      {"rightsize_limits_refused_total", "Requests refused with 429 by a key's budget or rate limit.", st.refused},
      {"rightsize_limits_backend_errors_total", "Failed calls to the limits store (Redis unreachable, queue full).",
       st.backend_errors},
      {"rightsize_limits_failed_open_total", "Requests admitted uncounted because the limits store failed.",
       st.failed_open},
      {"rightsize_limits_failed_closed_total", "Requests refused (503) because the limits store failed.",
       st.failed_closed},
  };
  for (const auto& c : counters) {
    const std::atomic<uint64_t>* v = &c.value;
    auto r = registry.addCallback(c.name, c.help, metrics::MetricType::kCounter,
                                  [v] { return static_cast<double>(v->load(std::memory_order_relaxed)); });
    if (!r) return r;
  }
  return {};
}

std::optional<http::Response> KeyAuth::refuseNonAdmin(const http::Request& req) const {
  if (admin_key_.empty()) {
    return errorJson(Error{ErrorCode::kNotFound, "the admin API is off: start the gateway with RIGHTSIZE_ADMIN_KEY set", 0});
  }
  std::string_view h = req[bhttp::field::authorization];
  std::string_view presented = h.size() > 7 && iequals(h.substr(0, 7), "bearer ") ? trim(h.substr(7)) : "";
  if (!sameSecret(presented, admin_key_)) {
    return errorJson(Error{ErrorCode::kUnauthorized, "the admin API needs 'Authorization: Bearer <RIGHTSIZE_ADMIN_KEY>'", 0});
  }
  return std::nullopt;
}

asio::awaitable<http::Response> KeyAuth::admin(const http::Request& req, std::string_view target) {
  if (auto refused = refuseNonAdmin(req)) co_return std::move(*refused);
  constexpr std::string_view kBase = "/admin/keys";
  if (!target.starts_with(kBase) || (target.size() > kBase.size() && target[kBase.size()] != '/')) {
    co_return errorJson(Error{ErrorCode::kNotFound, "no such admin endpoint: " + std::string(target), 0});
  }
  std::string_view id = target.size() > kBase.size() + 1 ? target.substr(kBase.size() + 1) : "";
  const auto method = req.method();

  if (id.empty() && method == bhttp::verb::post) {
    auto parsed = limits::parseCreateKeyRequest(req.body());
    if (!parsed) co_return errorJson(parsed.error());
    auto op = svc_.createKey(parsed->name, parsed->limits);
    auto created = co_await std::move(op);
    if (!created) co_return errorJson(created.error());
    spdlog::info("admin: created key {} ({})", created->record.id, created->record.name);
    // The only time the key is shown.
    std::string body = limits::keyToJson(created->record, false);
    body.insert(1, "\"key\":" + jsonString(created->secret_key) + ",");
    co_return http::jsonResponse(201, std::move(body));
  }
  if (method == bhttp::verb::get) {
    auto op = svc_.listKeys();
    auto keys = co_await std::move(op);
    if (!keys) co_return errorJson(keys.error());
    if (!id.empty()) {
      for (const auto& k : *keys)
        if (k.id == id) co_return http::jsonResponse(200, limits::keyToJson(k, false));
      co_return errorJson(Error{ErrorCode::kNotFound, "no key with id " + std::string(id), 0});
    }
    std::string body = "{\"object\":\"list\",\"data\":[";
    for (size_t i = 0; i < keys->size(); ++i) body += (i ? "," : "") + limits::keyToJson((*keys)[i], false);
    body += "]}";
    co_return http::jsonResponse(200, std::move(body));
  }
  if (!id.empty() && method == bhttp::verb::delete_) {
    auto op = svc_.revokeKey(std::string(id));
    auto revoked = co_await std::move(op);
    if (!revoked) co_return errorJson(revoked.error());
    if (!*revoked) co_return errorJson(Error{ErrorCode::kNotFound, "no key with id " + std::string(id), 0});
    spdlog::info("admin: revoked key {}", id);
    co_return http::jsonResponse(200, fmt::format(R"({{"id":{},"revoked":true}})", jsonString(id)));
  }
  co_return errorJson(Error{ErrorCode::kMethodNotAllowed,
                            "use GET or POST /admin/keys, GET or DELETE /admin/keys/<id>", 0});
}

}  // namespace rightsize::server
