#include "limits/redis.h"

#include <charconv>

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include "common/threads.h"

namespace rightsize::limits {

Result<RedisUrl> parseRedisUrl(std::string_view url) {
  if (url.starts_with("rediss://"))
    return fail(ErrorCode::kInvalidArgument, "rediss:// (TLS) is not supported by this build's hiredis; use redis://");
  if (!url.starts_with("redis://")) return fail(ErrorCode::kInvalidArgument, "redis url must start with redis://");
  std::string_view rest = url.substr(8);
  RedisUrl u;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = auth.find(':');
    u.password = std::string(colon == std::string_view::npos ? auth : auth.substr(colon + 1));
    if (colon != std::string_view::npos) u.user = std::string(auth.substr(0, colon));
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) {
      auto r = std::from_chars(db.data(), db.data() + db.size(), u.db);
      if (r.ec != std::errc() || r.ptr != db.data() + db.size() || u.db < 0)
        return fail(ErrorCode::kInvalidArgument, "redis url: the database after '/' must be a number");
    }
  }
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    std::string_view port = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    auto r = std::from_chars(port.data(), port.data() + port.size(), u.port);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size() || u.port <= 0 || u.port > 65535)
      return fail(ErrorCode::kInvalidArgument, "redis url: bad port");
  }
  if (!rest.empty()) u.host = std::string(rest);
  return u;
}

namespace {

RedisReply copyReply(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::kInteger; out.integer = r->integer; break;
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::kString; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::kStatus; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::kError; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(copyReply(r->element[i]));
      break;
    default: out.type = RedisReply::Type::kNil;
  }
  return out;
}

timeval toTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

std::string sha1Hex(const std::string& s) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  std::string out;
  for (unsigned char c : md) out += fmt::format("{:02x}", c);
  return out;
}

}  // namespace

RedisConnection::RedisConnection(RedisUrl url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {}

RedisConnection::~RedisConnection() { drop(); }

void RedisConnection::drop() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

Result<void> RedisConnection::connect() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_connect_)
    return fail(ErrorCode::kUnavailable, fmt::format("redis {}:{} unreachable (retrying shortly)", url_.host, url_.port));
  next_connect_ = now + reconnect_every;
  ctx_ = redisConnectWithTimeout(url_.host.c_str(), url_.port, toTimeval(timeout_));
  if (!ctx_ || ctx_->err) {
    std::string why = ctx_ ? ctx_->errstr : "out of memory";
    drop();
    return fail(ErrorCode::kUnavailable, fmt::format("cannot connect to redis {}:{}: {}", url_.host, url_.port, why));
  }
  redisSetTimeout(ctx_, toTimeval(timeout_));
  redisEnableKeepAlive(ctx_);
  auto init = [&](std::vector<std::string> argv) -> Result<void> {
    std::vector<const char*> p;
    std::vector<size_t> l;
    for (auto& a : argv) p.push_back(a.data()), l.push_back(a.size());
    auto* r = static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(p.size()), p.data(), l.data()));
    if (!r) return fail(ErrorCode::kUnavailable, "redis: connection lost during setup");
    RedisReply c = copyReply(r);
    freeReplyObject(r);
    if (c.type == RedisReply::Type::kError) return fail(ErrorCode::kUnavailable, "redis " + argv[0] + ": " + c.str);
    return {};
  };
  if (!url_.password.empty()) {
    std::vector<std::string> auth{"AUTH", url_.password};
    if (!url_.user.empty()) auth = {"AUTH", url_.user, url_.password};
    if (auto st = init(auth); !st) {
      drop();
      return st;
    }
  }
  if (url_.db != 0) {
    if (auto st = init({"SELECT", std::to_string(url_.db)}); !st) {
      drop();
      return st;
    }
  }
  spdlog::info("limits: connected to redis {}:{}", url_.host, url_.port);
  return {};
}

Result<RedisReply> RedisConnection::command(const std::vector<std::string>& argv) {
  if (!ctx_) {
    if (auto st = connect(); !st) return fail(st.error());
  }
  std::vector<const char*> p;
  std::vector<size_t> l;
  p.reserve(argv.size());
  l.reserve(argv.size());
  for (const auto& a : argv) p.push_back(a.data()), l.push_back(a.size());
  auto* r = static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(p.size()), p.data(), l.data()));
  if (!r) {
    std::string why = ctx_->errstr;
    drop();
    next_connect_ = std::chrono::steady_clock::time_point{};  // reconnect once right away next time
    return fail(ErrorCode::kUnavailable, "redis: " + why);
  }
  RedisReply out = copyReply(r);
  freeReplyObject(r);
  return out;
}

Result<RedisReply> RedisConnection::eval(const std::string& script, const std::vector<std::string>& keys,
                                         const std::vector<std::string>& args) {
  std::string sha;
  for (const auto& [s, h] : shas_)
    if (s == script) sha = h;
  if (sha.empty()) {
    sha = sha1Hex(script);
    shas_.emplace_back(script, sha);
  }
  std::vector<std::string> argv{"EVALSHA", sha, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = command(argv);
  if (r && r->type == RedisReply::Type::kError && r->str.starts_with("NOSCRIPT")) {
    argv[0] = "EVAL";
    argv[1] = script;  // EVAL also caches the script for the next EVALSHA
    r = command(argv);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
BlockingWorker::BlockingWorker(std::string name, size_t max_queue) : name_(std::move(name)), max_queue_(max_queue) {}

BlockingWorker::~BlockingWorker() { stop(); }

void BlockingWorker::start(std::function<void()> tick, std::chrono::milliseconds period) {
  tick_ = std::move(tick);
  period_ = period;
  thread_ = std::thread([this] {
    nameThisThread("rs-" + name_);
    run();
  });
}

void BlockingWorker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<std::packaged_task<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    dropped.swap(jobs_);
  }
}

bool BlockingWorker::post(std::packaged_task<void()>&& job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || jobs_.size() >= max_queue_) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void BlockingWorker::run() {
  auto next_tick = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (tick_ && std::chrono::steady_clock::now() >= next_tick) {
      lock.unlock();
      tick_();
      lock.lock();
      next_tick = std::chrono::steady_clock::now() + period_;
      continue;
    }
    if (jobs_.empty()) {
      if (tick_) cv_.wait_until(lock, next_tick);
      else cv_.wait(lock);
      continue;
    }
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace rightsize::limits
